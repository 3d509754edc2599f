// Issue "The first path", end to end on a two-node bed with the real agent, kernel programs,
// proxy and clients (curl, python sockets): an enrolled client reaches a Service backed by pods
// on both nodes through the node proxy; metrics count exactly that; un-enrolled pods go direct;
// removing the label detaches; a killed agent fails fast and comes back without duplicates;
// opaque TCP, no endpoints and malformed requests behave.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stringify as stringifyYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { BedFixture, sumMetric } from './bed-fixture.js';
import { attachedWeftPrograms } from '../support/attached-programs.js';

const meshNs = uniqueName('mesh');
const plainNs = uniqueName('plain');
const requestsMetric = 'weft_requests_total';
let bed: BedFixture;
let clusterIP: string;
let nodeIps: Record<string, string>;

async function podCgroup(namespace: string, name: string): Promise<string> {
  const pod = (await bed.status()).pods.find((p) => p.namespace === namespace && p.name === name);
  assert.ok(pod, `pod ${namespace}/${name} in bed status`);
  return pod.cgroup;
}

async function curl(pod: string, namespace: string, url: string, extra: string[] = []) {
  return bed.exec(pod, namespace, ['curl', '-s', '-m', '10', ...extra, url]);
}

const podNodes: Record<string, string> = { 'web-1': 'node-1', 'web-2': 'node-2' };

interface EchoAnswer {
  pod: string;
  peer: string;
  url: string;
  headers: Record<string, string>;
}

/**
 * Proof a call went through the mesh: the backend's peer is its own node's agent (which delivers
 * the HBONE tunnel, same node or not), never the client pod, and it carries the client's verified
 * identity.
 */
function assertMeshed(body: EchoAnswer, what: string): void {
  assert.equal(body.peer.split(':')[0], nodeIps[podNodes[body.pod]!], `${what} was delivered by ${podNodes[body.pod]}'s agent`);
  assert.equal(body.headers['x-weft-peer-identity'], `spiffe://cluster.local/ns/${meshNs}/sa/default`, `${what} carries the client's identity`);
}

const serviceLabels = (ns: string) => ({
  reporter: 'source',
  source_workload: 'client',
  source_namespace: ns,
  destination_service: `web.${ns}.svc.cluster.local`,
  destination_namespace: ns,
  destination_workload: 'web',
  request_protocol: 'http',
  connection_security_policy: 'unknown',
  source_principal: `spiffe://cluster.local/ns/${ns}/sa/default`,
});

before(async () => {
  bed = await BedFixture.up('e2e-first-path');
  nodeIps = Object.fromEntries((await bed.status()).nodes.map((n) => [n.name, n.ip]));
  await bed.kubectl(['create', 'namespace', meshNs]);
  await bed.kubectl(['label', 'namespace', meshNs, 'weft.io/mesh=enabled']);
  await bed.kubectl(['create', 'namespace', plainNs]);
  const manifests = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: meshNs },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'banner', namespace: meshNs },
        spec: { selector: { app: 'banner' }, ports: [{ name: 'banner', port: 7000, targetPort: 7000 }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'empty', namespace: meshNs },
        spec: { selector: { app: 'nothing-here' }, ports: [{ port: 80, targetPort: 8080 }] } },
  ];
  await bed.kubectl(['apply', '-f', '-'], manifests.map((m) => stringifyYaml(m)).join('---\n'));
  await Promise.all([
    bed.runEcho('web-1', meshNs, 'node-1', 'http', 8080, 'app=web'),
    bed.runEcho('web-2', meshNs, 'node-2', 'http', 8080, 'app=web'),
    bed.runEcho('banner-1', meshNs, 'node-2', 'banner', 7000, 'app=banner'),
  ]);
  await bed.bedOk(['run', 'client', '-n', meshNs, '--node', 'node-1', '--labels', 'app=client', '--', 'sleep', 'infinity']);
  await bed.bedOk(['run', 'client', '-n', plainNs, '--node', 'node-1', '--labels', 'app=client', '--', 'sleep', 'infinity']);
  clusterIP = (await bed.kubectl(['get', 'service', 'web', '-n', meshNs, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  // The Service is usable once its EndpointSlice lists both pods and the agent has enrolled the client.
  await waitFor(async () => {
    const out = await bed.kubectl(['get', 'endpointslices', '-n', meshNs, '-l', 'kubernetes.io/service-name=web', '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
    return out.trim().split(/\s+/).length === 2;
  }, { timeoutMs: 60_000, what: 'EndpointSlice with both web pods' });
  const clientCgroup = await podCgroup(meshNs, 'client');
  await waitFor(() => attachedWeftPrograms(clientCgroup).length === 4, { timeoutMs: 60_000, what: 'programs attached to the client' });
});

after(async () => {
  await bed?.down();
});

describe('an enrolled client calling a Service backed by pods on both nodes', () => {
  const calls = 20;
  test('every call succeeds, both backends serve, through node-1\'s proxy', async () => {
    const before = sumMetric(await bed.metrics('node-1'), requestsMetric, serviceLabels(meshNs));
    const served = new Map<string, number>();
    for (let i = 0; i < calls; i++) {
      const result = await curl('client', meshNs, `http://${clusterIP}/call-${i}`, ['-f']);
      assert.equal(result.code, 0, `call ${i}: ${result.stderr}`);
      const body = JSON.parse(result.stdout) as EchoAnswer;
      assert.equal(body.url, `/call-${i}`, 'the backend saw this request');
      assertMeshed(body, `call ${i}`);
      served.set(body.pod, (served.get(body.pod) ?? 0) + 1);
    }
    assert.deepEqual([...served.keys()].sort(), ['web-1', 'web-2'], 'round robin reaches both nodes');
    const metrics = await bed.metrics('node-1');
    assert.equal(sumMetric(metrics, requestsMetric, { ...serviceLabels(meshNs), response_code: '200' }) - before, calls);
    assert.equal(sumMetric(metrics, 'weft_request_duration_seconds_count', serviceLabels(meshNs)) - before, calls);
    assert.equal(sumMetric(metrics, 'weft_enrolled_pods'), 2, 'client and web-1 are enrolled on node-1');
  });

  test('the client sees the ClusterIP it dialled as its peer', async () => {
    const py = `import socket; s = socket.create_connection(("${clusterIP}", 80), timeout=10); print("%s:%d" % s.getpeername())`;
    const result = await bed.exec('client', meshNs, ['python3', '-c', py]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `${clusterIP}:80`);
  });

  test('a server-speaks-first protocol works as opaque TCP', async () => {
    const bannerIP = (await bed.kubectl(['get', 'service', 'banner', '-n', meshNs, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const py = [
      'import socket',
      `s = socket.create_connection(("${bannerIP}", 7000), timeout=10)`,
      'f = s.makefile("rwb")',
      'print(f.readline().decode().strip())', // the server talks first; the client has sent nothing
      'f.write(b"ping\\n"); f.flush()',
      'print(f.readline().decode().strip())',
    ].join('\n');
    const result = await bed.exec('client', meshNs, ['python3', '-c', py]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['HELLO from banner-1', 'ping']);
  });

  test('a Service without ready endpoints answers 503 naming the cause', async () => {
    const emptyIP = (await bed.kubectl(['get', 'service', 'empty', '-n', meshNs, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const result = await curl('client', meshNs, `http://${emptyIP}/`, ['-i']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^HTTP\/1\.1 503/);
    assert.match(result.stdout, /x-weft-error: \S+/i);
  });

  test('a malformed request gets 400 and the agent keeps serving', async () => {
    const agentBefore = (await bed.status()).nodes.find((n) => n.name === 'node-1')!.agentPid;
    const py = [
      'import socket',
      `s = socket.create_connection(("${clusterIP}", 80), timeout=10)`,
      's.sendall(b"GET / HTTP/1.1\\r\\nThis is not a header\\r\\n\\r\\n")',
      'print(s.recv(200).decode(errors="replace").split("\\r\\n")[0])',
    ].join('\n');
    const result = await bed.exec('client', meshNs, ['python3', '-c', py]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.trim(), /^HTTP\/1\.1 400/);
    const next = await curl('client', meshNs, `http://${clusterIP}/after-bad`, ['-f']);
    assert.equal(next.code, 0, next.stderr);
    assert.equal((await bed.status()).nodes.find((n) => n.name === 'node-1')!.agentPid, agentBefore, 'same agent process');
  });
});

describe('pods outside the mesh', () => {
  test('a pod in a namespace without the label reaches the Service directly and moves no metric', async () => {
    const before = await bed.metrics('node-1');
    const result = await curl('client', plainNs, `http://${clusterIP}/direct`, ['-f']);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { peer: string };
    const plainClientIp = (await bed.status()).pods.find((p) => p.namespace === plainNs && p.name === 'client')!.ip;
    assert.equal(body.peer.split(':')[0], plainClientIp, 'the backend saw the client itself: no proxy in between');
    const after = await bed.metrics('node-1');
    assert.equal(sumMetric(after, requestsMetric), sumMetric(before, requestsMetric), 'no request metric moved');
    assert.equal(sumMetric(after, 'weft_tcp_connections_opened_total'), sumMetric(before, 'weft_tcp_connections_opened_total'));
    assert.deepEqual(attachedWeftPrograms(await podCgroup(plainNs, 'client')), []);
  });
});

describe('the agent restarting', () => {
  test('while it is down, new connections are refused at once; after, they work with no duplicate attachments', async () => {
    const clientCgroup = await podCgroup(meshNs, 'client');
    const attached = attachedWeftPrograms(clientCgroup);
    let refusedSeen = false;
    for (let attempt = 0; attempt < 5 && !refusedSeen; attempt++) {
      const oldPid = (await bed.status()).nodes.find((n) => n.name === 'node-1')!.agentPid!;
      process.kill(oldPid, 'SIGKILL');
      await waitFor(() => { try { process.kill(oldPid, 0); return false; } catch { return true; } }, { what: 'agent gone' });
      const started = Date.now();
      const during = await curl('client', meshNs, `http://${clusterIP}/while-down`);
      // Either the supervisor already brought it back (success), or the connect was refused
      // (curl exit 7). A hang (exit 28) or anything else fails the test.
      assert.ok(during.code === 0 || during.code === 7, `curl exited ${during.code}: ${during.stderr}`);
      if (during.code === 7) {
        refusedSeen = true;
        assert.ok(Date.now() - started < 5000, 'refused promptly, not after a timeout');
      }
      await waitFor(async () => {
        const node = (await bed.status()).nodes.find((n) => n.name === 'node-1')!;
        if (node.agentPid === null || node.agentPid === oldPid) return false;
        return (await bed.bed(['exec', '--node', 'node-1', '--', 'curl', '-sf', `http://${nodeIps['node-1']}:15020/readyz`])).code === 0;
      }, { timeoutMs: 90_000, what: 'restarted agent ready' });
    }
    assert.ok(refusedSeen, 'a connection made while the agent was down was refused');
    const after = await curl('client', meshNs, `http://${clusterIP}/after-restart`, ['-f']);
    assert.equal(after.code, 0, after.stderr);
    assert.deepEqual(attachedWeftPrograms(clientCgroup), attached, 'the same four programs, once each');
  });
});

describe('removing the namespace label', () => {
  test('detaches the programs, traffic goes direct, metrics stay; adding it back re-enrolls running pods', async () => {
    const clientCgroup = await podCgroup(meshNs, 'client');
    const before = sumMetric(await bed.metrics('node-1'), requestsMetric);
    await bed.kubectl(['label', 'namespace', meshNs, 'weft.io/mesh-']);
    await waitFor(() => attachedWeftPrograms(clientCgroup).length === 0, { timeoutMs: 30_000, what: 'programs detached' });
    const direct = await curl('client', meshNs, `http://${clusterIP}/unlabelled`, ['-f']);
    assert.equal(direct.code, 0, direct.stderr);
    const clientIp = (await bed.status()).pods.find((p) => p.namespace === meshNs && p.name === 'client')!.ip;
    assert.equal((JSON.parse(direct.stdout) as { peer: string }).peer.split(':')[0], clientIp, 'direct, not proxied');
    const metrics = await bed.metrics('node-1');
    assert.equal(sumMetric(metrics, requestsMetric), before, 'earlier counts are still served, nothing new');
    assert.equal(sumMetric(metrics, 'weft_enrolled_pods'), 0);

    await bed.kubectl(['label', 'namespace', meshNs, 'weft.io/mesh=enabled']);
    await waitFor(() => attachedWeftPrograms(clientCgroup).length === 4, { timeoutMs: 30_000, what: 'programs re-attached' });
    const meshed = await curl('client', meshNs, `http://${clusterIP}/relabelled`, ['-f']);
    assert.equal(meshed.code, 0, meshed.stderr);
    assertMeshed(JSON.parse(meshed.stdout) as EchoAnswer, 'the relabelled call');
  });
});

describe('the API server going away', () => {
  test('the agent keeps proxying with its last known state', async () => {
    const info = JSON.parse(readFileSync(join(bed.state, 'apiserver', 'apiserver.json'), 'utf8')) as { pid: number };
    process.kill(info.pid, 'SIGKILL');
    await waitFor(() => { try { process.kill(info.pid, 0); return false; } catch { return true; } }, { what: 'API server gone' });
    for (let i = 0; i < 4; i++) {
      const result = await curl('client', meshNs, `http://${clusterIP}/no-apiserver-${i}`, ['-f']);
      assert.equal(result.code, 0, result.stderr);
      assertMeshed(JSON.parse(result.stdout) as EchoAnswer, `call ${i} without the API server`);
    }
  });
});
