// The kubelet features a chart's pods need, on a real one-node bed (root): hostNetwork pods in the
// node's namespace with the node IP; projected service-account tokens (pod-bound, with the
// volume's audience) at their mountPath inside the container; hostPath /sys/fs/bpf and
// /sys/fs/cgroup as the node's own; the in-cluster API access every pod gets (token, ca.crt,
// KUBERNETES_SERVICE_HOST/PORT, TLS verified) from both kinds of pod; the weft image's `weft` first
// in PATH; liveness probes; and nothing of it on the host (/run/secrets, mounts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { bedOk } from '../bed-cli-runner.js';
import { makeTempDir, type TempDir } from '../../../support/temp-dir.js';
import { uniqueName } from '../../../support/unique-name.js';
import { waitFor } from '../../../support/wait-for.js';
import type { BedStatus } from '../commands/status.js';
import { nodeBpffsDir, bedPrefix } from '../bed-naming.js';
import { kubectl as runKubectl } from '../../kubectl.js';

const ns = uniqueName('kubelet');
const audience = 'weft-test-audience';
let dir: TempDir;
let status: BedStatus;
let hadRunSecrets: boolean;

function kubectl(args: string[], input?: string): Promise<string> {
  return runKubectl(join(dir.path, 'kubeconfig'), [...args], input);
}

/** The pod's log once it holds `lines` lines (the pods print their findings and then sleep). */
async function podOutput(name: string, lines: number): Promise<string[]> {
  const file = join(dir.path, 'logs', 'pods', `${ns}_${name}.log`);
  return waitFor(async () => {
    if (!existsSync(file)) return undefined;
    const text = (await readFile(file, 'utf8')).trimEnd().split('\n');
    return text.length >= lines ? text : undefined;
  }, { timeoutMs: 60_000, what: `${lines} lines in ${file}` });
}

/** A pod on node-1 that prints what `script` finds, then sleeps; `container` adds container fields. */
function pod(name: string, spec: Record<string, unknown>, script: string): Record<string, unknown> {
  const { container, ...podSpec } = spec;
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns },
    spec: { nodeName: 'node-1', restartPolicy: 'Never', terminationGracePeriodSeconds: 1, ...podSpec,
      containers: [{ name: 'main', image: 'weft-bed/host', command: ['sh', '-c', `${script}; exec sleep infinity`], ...((container as object | undefined) ?? {}) }] },
  };
}

/** Asks the API server's TokenReview about a token, for the given audience. */
async function reviewToken(token: string, audiences: string[]): Promise<{ authenticated?: boolean; user?: { username?: string; extra?: Record<string, string[]> }; error?: string }> {
  const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } };
  return (JSON.parse(await kubectl(['create', '--validate=false', '-o', 'json', '-f', '-'], JSON.stringify(review))) as { status: never }).status;
}

// Prints the HTTP code of an authenticated, TLS-verified request to the API server, as an
// in-cluster client makes it (curl fails on a certificate that does not name the address).
const API_CALL = 'curl -sS -o /dev/null -w "%{http_code}\\n" --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt '
  + '-H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" '
  + '"https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)/pods"';

before(async () => {
  hadRunSecrets = existsSync('/run/secrets');
  dir = await makeTempDir('kubelet-features');
  await bedOk(dir.path, ['up', '--nodes', '1', '--no-agent', '--no-ca'], { timeoutMs: 180_000 });
  status = JSON.parse(await bedOk(dir.path, ['status'])) as BedStatus;
  await kubectl(['create', 'namespace', ns]);
  await kubectl(['-n', ns, 'create', 'serviceaccount', 'probe']);
  const pods = [
    pod('host-net', { hostNetwork: true },
      `ip -4 -o addr show dev eth0 | awk '{print $4}'; echo "$KUBERNETES_SERVICE_HOST"; ${API_CALL}`),
    pod('volumes', {
      serviceAccountName: 'probe',
      volumes: [
        { name: 'token', projected: { sources: [{ serviceAccountToken: { audience, expirationSeconds: 3600, path: 'token' } }] } },
        { name: 'bpffs', hostPath: { path: '/sys/fs/bpf', type: 'DirectoryOrCreate' } },
        { name: 'cgroup', hostPath: { path: '/sys/fs/cgroup', type: 'Directory' } },
      ],
      container: {
        volumeMounts: [
          { name: 'token', mountPath: '/var/run/secrets/weft/ca-token', readOnly: true },
          { name: 'bpffs', mountPath: '/sys/fs/bpf' },
          { name: 'cgroup', mountPath: '/sys/fs/cgroup', readOnly: true },
        ],
      },
    }, [
      'cat /var/run/secrets/weft/ca-token/token; echo',
      'mkdir /sys/fs/bpf/made-by-pod && echo bpffs-ok',
      'own=$(grep "^0::" /proc/self/cgroup | cut -c4-); test -d "/sys/fs/cgroup$own" && echo "cgroup $own"',
      'if mkdir /sys/fs/cgroup/nope 2>/dev/null; then echo cgroup-writable; else echo cgroup-read-only; fi',
      'echo "$KUBERNETES_SERVICE_HOST"',
      API_CALL,
    ].join('; ')),
    pod('weft-image', { container: { image: 'ghcr.io/weft-mesh/weft:0.1.0' } }, 'command -v weft'),
    // Nothing listens on port 9: the liveness probe fails and the container is restarted.
    pod('not-alive', { restartPolicy: 'Always', container: { livenessProbe: { tcpSocket: { port: 9 }, periodSeconds: 1, failureThreshold: 2 } } }, 'echo up'),
  ];
  await kubectl(['apply', '-f', '-'], pods.map((p) => stringifyYaml(p)).join('---\n'));
});

after(async () => {
  try {
    if (dir) await bedOk(dir.path, ['down'], { timeoutMs: 120_000 });
  } finally {
    await dir?.remove();
  }
});

test('a hostNetwork pod runs in the node namespace with the node IP and reaches the API server on 127.0.0.1', async () => {
  const nodeIp = status.nodes[0]!.ip;
  const [address, apiHost, httpCode] = await podOutput('host-net', 3);
  assert.equal(address, `${nodeIp}/24`, 'eth0 of the node');
  assert.equal(apiHost, '127.0.0.1');
  assert.equal(httpCode, '403', 'TLS verified against ca.crt, the token authenticated (RBAC then says no)');
  const object = JSON.parse(await kubectl(['-n', ns, 'get', 'pod', 'host-net', '-o', 'json'])) as { status: { podIP: string; hostIP: string } };
  assert.equal(object.status.podIP, nodeIp);
  assert.equal(object.status.hostIP, nodeIp);
});

test('projected token, hostPath bpffs and cgroup, and API access work inside a pod of its own namespace', async () => {
  const [token, bpffs, cgroupLine, cgroupWritable, apiHost, httpCode] = await podOutput('volumes', 6);
  const uid = (await kubectl(['-n', ns, 'get', 'pod', 'volumes', '-o', 'jsonpath={.metadata.uid}'])).trim();

  const review = await reviewToken(token!, [audience]);
  assert.equal(review.authenticated, true, `the projected token is valid for ${audience}: ${review.error ?? ''}`);
  assert.equal(review.user?.username, `system:serviceaccount:${ns}:probe`);
  assert.deepEqual(review.user?.extra?.['authentication.kubernetes.io/pod-uid'], [uid], 'bound to this pod');
  assert.notEqual((await reviewToken(token!, ['some-other-audience'])).authenticated, true, 'and to no other audience');

  assert.equal(bpffs, 'bpffs-ok');
  assert.ok(existsSync(join(nodeBpffsDir(bedPrefix(dir.path), 'node-1'), 'made-by-pod')), "/sys/fs/bpf inside is the node's bpffs dir");
  assert.match(cgroupLine!, /^cgroup \/kubepods\.slice\/.*\.scope$/, "/sys/fs/cgroup inside is the node's cgroup root, holding the pod's cgroup");
  assert.equal(cgroupWritable, 'cgroup-read-only');
  assert.equal(apiHost, status.nodes[0]!.ip, 'pods in their own namespace reach the API server at the node IP');
  assert.equal(httpCode, '403', 'TLS verified against ca.crt (the certificate names the node IP), token authenticated');
});

test("the weft image runs the repo's bin/weft as `weft`", async () => {
  const [path] = await podOutput('weft-image', 1);
  assert.match(path!, /\/bin\/weft$/);
  assert.ok(existsSync(path!), path);
});

test('a container failing its liveness probe is killed and restarted', async () => {
  await waitFor(async () => Number((await kubectl(['-n', ns, 'get', 'pod', 'not-alive', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}'])).trim()) >= 1,
    { timeoutMs: 60_000, what: 'a restart after failed liveness probes' });
});

test('nothing leaks onto the host: no /run/secrets, no mounts', async () => {
  assert.equal(existsSync('/run/secrets'), hadRunSecrets);
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  assert.ok(!mounts.includes('weft-bed-shadow'), 'no shadow tmpfs in the host mount table');
  assert.ok(!mounts.includes(dir.path), 'no volume of the bed is mounted on the host');
  assert.ok(!/ \/(var\/)?run\/secrets/.test(mounts), 'nothing mounted at /run/secrets on the host');
});
