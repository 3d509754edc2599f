// Strict mTLS on the bed: in a namespace labelled weft.io/mtls=strict, an enrolled pod accepts
// connections only through the mesh (its node's proxy) and kubelet probes; a pod outside the
// mesh is refused in the kernel and the refusal is counted. Permissive (the default) lets
// plaintext from outside the mesh arrive.
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
  bed = await BedFixture.up('e2e-strict', 1);
  await bed.kubectl(['create', 'namespace', strictNs]);
  await bed.kubectl(['label', 'namespace', strictNs, 'weft.io/mesh=enabled', 'weft.io/mtls=strict']);
  await bed.kubectl(['create', 'namespace', plainNs]);
  await bed.runEcho('server', strictNs, 'node-1', 'http', 8080, 'app=server');
  await bed.kubectl(['-n', strictNs, 'expose', 'pod', 'server', '--port', '80', '--target-port', '8080']);
  await bed.bedOk(['run', 'client', '-n', strictNs, '--node', 'node-1', '--labels', 'app=client', '--', 'sleep', 'infinity']);
  await bed.bedOk(['run', 'outsider', '-n', plainNs, '--node', 'node-1', '--', 'sleep', 'infinity']);
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

test('a meshed client reaches the strict pod; a pod outside the mesh is dropped and counted', async () => {
  const meshed = await waitFor(async () => {
    const r = await bed.exec('client', strictNs, ['curl', '-sf', '-m', '10', `http://${serviceIp}/`]);
    return r.code === 0 && r;
  }, { timeoutMs: 60_000, what: 'the meshed client served through the proxy' });
  assert.equal((JSON.parse(meshed.stdout) as { pod: string }).pod, 'server');

  const deniedBefore = sumMetric(await bed.metrics('node-1'), 'weft_strict_denied_total');
  for (const url of [`http://${serverIp}:8080/`, `http://${serviceIp}/`]) {
    const outside = await bed.exec('outsider', plainNs, ['curl', '-s', '-m', '3', url]);
    assert.equal(outside.code, 28, `${url} from outside the mesh times out (its SYN is dropped): exit ${outside.code}`);
  }
  const deniedAfter = sumMetric(await bed.metrics('node-1'), 'weft_strict_denied_total');
  assert.ok(deniedAfter > deniedBefore, `weft_strict_denied_total moved (${deniedBefore} -> ${deniedAfter})`);
});

test('permissive again once the label goes: plaintext from outside the mesh arrives', async () => {
  await bed.kubectl(['label', 'namespace', strictNs, 'weft.io/mtls-']);
  const direct = await waitFor(async () => {
    const r = await bed.exec('outsider', plainNs, ['curl', '-sf', '-m', '3', `http://${serverIp}:8080/`]);
    return r.code === 0 && r;
  }, { timeoutMs: 60_000, what: 'plaintext from outside accepted' });
  assert.equal((JSON.parse(direct.stdout) as { pod: string }).pod, 'server');
});
