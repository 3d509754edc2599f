// Strict mTLS on a two-node bed: in a namespace labelled weft.io/mtls=strict, an enrolled pod
// (on node-2) accepts connections only through the mesh (the mTLS tunnel its node's agent
// delivers) and kubelet probes; pods outside the mesh, on either node, are refused in the kernel
// and the refusals are counted. Permissive (the default) lets plaintext from outside arrive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { BedFixture, sumMetric } from './bed-fixture.js';

const strictNs = uniqueName('strict');
const plainNs = uniqueName('outside');
let bed: BedFixture;
let serverIp: string;
let serviceIp: string;

before(async () => {
  bed = await BedFixture.up('e2e-strict', 2);
  await bed.kubectl(['create', 'namespace', strictNs]);
  await bed.kubectl(['label', 'namespace', strictNs, 'weft.io/mesh=enabled', 'weft.io/mtls=strict']);
  await bed.kubectl(['create', 'namespace', plainNs]);
  await bed.runEcho('server', strictNs, 'node-2', 'http', 8080, 'app=server');
  await bed.kubectl(['-n', strictNs, 'expose', 'pod', 'server', '--port', '80', '--target-port', '8080']);
  await bed.bedOk(['run', 'client', '-n', strictNs, '--node', 'node-1', '--labels', 'app=client', '--', 'sleep', 'infinity']);
  await bed.bedOk(['run', 'outsider', '-n', plainNs, '--node', 'node-1', '--', 'sleep', 'infinity']);
  await bed.bedOk(['run', 'neighbour', '-n', plainNs, '--node', 'node-2', '--', 'sleep', 'infinity']);
  serverIp = (await bed.status()).pods.find((p) => p.name === 'server')!.ip;
  serviceIp = (await bed.kubectl(['-n', strictNs, 'get', 'service', 'server', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  await waitFor(async () => {
    const out = await bed.kubectl(['get', 'endpointslices', '-n', strictNs, '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
    return out.includes(serverIp);
  }, { timeoutMs: 60_000, what: 'the server in its EndpointSlice' });
});

after(async () => {
  await bed?.down();
});

test('a meshed client on another node reaches the strict pod; pods outside the mesh on either node are dropped and counted', async () => {
  const meshed = await waitFor(async () => {
    const r = await bed.exec('client', strictNs, ['curl', '-sf', '-m', '10', `http://${serviceIp}/`]);
    return r.code === 0 && r;
  }, { timeoutMs: 60_000, what: 'the meshed client served through the tunnel' });
  const answer = JSON.parse(meshed.stdout) as { pod: string; headers: Record<string, string> };
  assert.equal(answer.pod, 'server');
  assert.equal(answer.headers['x-weft-peer-identity'], `spiffe://cluster.local/ns/${strictNs}/sa/default`, 'it came through the mTLS tunnel');

  const deniedBefore = sumMetric(await bed.metrics('node-2'), 'weft_strict_denied_total');
  for (const [pod, url] of [['outsider', `http://${serverIp}:8080/`], ['outsider', `http://${serviceIp}/`], ['neighbour', `http://${serverIp}:8080/`]] as const) {
    const outside = await bed.exec(pod, plainNs, ['curl', '-s', '-m', '3', url]);
    assert.equal(outside.code, 28, `${url} from ${pod}, outside the mesh, times out (its SYN is dropped): exit ${outside.code}`);
  }
  const deniedAfter = sumMetric(await bed.metrics('node-2'), 'weft_strict_denied_total');
  assert.ok(deniedAfter >= deniedBefore + 3, `weft_strict_denied_total counted each refused connection (${deniedBefore} -> ${deniedAfter})`);
});

test('permissive again once the label goes: plaintext from outside the mesh arrives', async () => {
  await bed.kubectl(['label', 'namespace', strictNs, 'weft.io/mtls-']);
  const direct = await waitFor(async () => {
    const r = await bed.exec('outsider', plainNs, ['curl', '-sf', '-m', '3', `http://${serverIp}:8080/`]);
    return r.code === 0 && r;
  }, { timeoutMs: 60_000, what: 'plaintext from outside accepted' });
  assert.equal((JSON.parse(direct.stdout) as { pod: string }).pod, 'server');
});
