// Bad input gets a proper Status with the right code and message, and the server keeps serving.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { apiRequest } from './test-client.js';
import type { RequestOptions } from './test-client.js';
import { formatMicroTime } from './micro-time.js';

describe('bad input', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  const ns = uniqueName('bad');

  before(async () => {
    dir = await makeTempDir('bad-input');
    server = await startApiServer({ stateDir: join(dir.path, 'state'), maxBodyBytes: 64 * 1024 });
    assert.equal((await apiRequest(server, 'POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } })).status, 201);
  });
  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  /** Sends the request, checks the Status, and proves the server still answers afterwards. */
  async function expectStatus(method: string, path: string, options: RequestOptions, code: number, reason: string, message: RegExp): Promise<any> {
    const r = await apiRequest(server, method, path, options);
    assert.equal(r.status, code, r.text);
    assert.equal(r.json.kind, 'Status');
    assert.equal(r.json.status, 'Failure');
    assert.equal(r.json.code, code);
    assert.equal(r.json.reason, reason);
    assert.match(r.json.message, message);
    const alive = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}`);
    assert.equal(alive.status, 200, 'the server keeps serving');
    return r.json;
  }

  const pods = () => `/api/v1/namespaces/${ns}/pods`;

  test('malformed JSON and YAML are 400', async () => {
    await expectStatus('POST', pods(), { body: '{"apiVersion": "v1", "kind": ' }, 400, 'BadRequest', /json parse error/);
    await expectStatus('POST', pods(), { body: '{not json}' }, 400, 'BadRequest', /json parse error: invalid character/);
    await expectStatus('POST', pods(), { body: 'kind: Pod\nmetadata: [unclosed', contentType: 'application/yaml' }, 400, 'BadRequest', /error converting YAML to JSON/);
    await expectStatus('POST', pods(), { body: '[1,2]' }, 400, 'BadRequest', /cannot unmarshal array/);
    await expectStatus('POST', pods(), { body: '' }, 400, 'BadRequest', /unexpected end of JSON input/);
  });

  test('a MicroTime without six fractional digits is refused as a real server decodes it (400, Go\'s parse error)', async () => {
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    const lease = (name: string, renewTime: string) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'node-1', renewTime } });
    // The exact message a kube-apiserver 1.26 gave for the bed's first Lease (milliseconds, as toISOString() writes).
    const refused = await expectStatus('POST', leases, { body: lease('millis', '2026-12-03T06:42:23.493Z') }, 400, 'BadRequest', /cannot be handled/);
    assert.equal(refused.message,
      'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-12-03T06:42:23.493Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".493Z" as ".000000"');
    await expectStatus('POST', leases, { body: lease('seconds', '2026-12-03T06:42:23Z') }, 400, 'BadRequest', /cannot parse "Z" as "\.000000"/);
    await expectStatus('POST', leases, { body: lease('nanos', '2026-12-03T06:42:23.493000001Z') }, 400, 'BadRequest', /cannot parse "001Z" as "Z07:00"/);
    assert.equal((await apiRequest(server, 'GET', `${leases}/millis`)).status, 404, 'nothing was stored');
    const created = await apiRequest(server, 'POST', leases, { body: lease('micros', formatMicroTime(new Date('2026-12-03T06:42:23.493Z'))) });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.spec.renewTime, '2026-12-03T06:42:23.493000Z');
    const update = { ...created.json, spec: { ...created.json.spec, acquireTime: '2026-12-03T06:42:23+01:00' } };
    await expectStatus('PUT', `${leases}/micros`, { body: update }, 400, 'BadRequest', /cannot parse "\+01:00" as "\.000000"/);
    assert.equal((await apiRequest(server, 'GET', `${leases}/micros`)).json.spec.acquireTime, undefined, 'the refused update changed nothing');
  });

  test('YAML bodies are accepted', async () => {
    const r = await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n', contentType: 'application/yaml' });
    assert.equal(r.status, 201);
    assert.equal(r.json.data.a, 'b');
  });

  test('unknown resources, groups and versions are 404', async () => {
    await expectStatus('GET', `/api/v1/namespaces/${ns}/widgets`, {}, 404, 'NotFound', /the server could not find the requested resource/);
    await expectStatus('POST', '/apis/nope.example.io/v1/things', { body: {} }, 404, 'NotFound', /could not find/);
    await expectStatus('GET', '/apis/discovery.k8s.io/v9', {}, 404, 'NotFound', /could not find/);
    await expectStatus('GET', '/not/an/api', {}, 404, 'NotFound', /could not find/);
    await expectStatus('GET', '/api/v1/nodes/n1/status/extra', {}, 404, 'NotFound', /could not find/);
    await expectStatus('POST', pods(), { body: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'x', namespace: 'elsewhere' }, spec: { containers: [] } } }, 400, 'BadRequest', /does not match the namespace/);
    await expectStatus('POST', '/api/v1/namespaces/no-such-ns/configmaps', { body: { metadata: { name: 'x' } } }, 404, 'NotFound', /namespaces "no-such-ns" not found/);
  });

  test('an object without a name is 422 "name or generateName is required"', async () => {
    const status = await expectStatus('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } }, 422, 'Invalid', /name or generateName is required/);
    assert.equal(status.details.causes[0].field, 'metadata.name');
    assert.equal(status.details.causes[0].reason, 'FieldValueRequired');
  });

  test('kind or apiVersion that do not match the URL are 400', async () => {
    await expectStatus('POST', pods(), { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' } } }, 400, 'BadRequest', /cannot be handled as a Pod/);
    await expectStatus('POST', pods(), { body: { apiVersion: 'apps/v1', kind: 'Pod', metadata: { name: 'x' } } }, 400, 'BadRequest', /the API version in the data \(apps\/v1\) does not match the expected API version \(v1\)/);
    await expectStatus('PUT', `/api/v1/namespaces/${ns}/configmaps/from-yaml`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' } } }, 400, 'BadRequest', /does not match the name on the URL/);
  });

  test('a body over the limit is 413', async () => {
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { blob: 'x'.repeat(100 * 1024) } });
    await expectStatus('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: big }, 413, 'RequestEntityTooLarge', /^Request entity too large: limit is 65536$/);
  });

  test('unsupported media types and methods', async () => {
    await expectStatus('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: 'x', contentType: 'text/plain' }, 415, 'UnsupportedMediaType', /unknown format/);
    await expectStatus('PUT', `/api/v1/namespaces/${ns}/configmaps`, { body: {} }, 405, 'MethodNotAllowed', /does not allow this method/);
    await expectStatus('DELETE', '/api/v1/namespaces', {}, 405, 'MethodNotAllowed', /does not allow this method/);
  });

  test('bad selectors and query parameters are 400', async () => {
    await expectStatus('GET', `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.unknown%3Dx`, {}, 400, 'BadRequest', /field label not supported: spec\.unknown/);
    await expectStatus('GET', `/api/v1/namespaces/${ns}/pods?fieldSelector=nonsense`, {}, 400, 'BadRequest', /unable to parse requested field selector/);
    await expectStatus('GET', `/api/v1/namespaces/${ns}/pods?continue=garbage&limit=1`, {}, 400, 'BadRequest', /continue key is not valid/);
    await expectStatus('POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=Some`, { body: { metadata: { name: 'd' } } }, 400, 'BadRequest', /dryRun/);
    await expectStatus('DELETE', `/api/v1/namespaces/${ns}/configmaps/from-yaml?gracePeriodSeconds=soon`, {}, 400, 'BadRequest', /gracePeriodSeconds/);
  });

  test('a failed patch is a 400, not a crash', async () => {
    await expectStatus('PATCH', `/api/v1/namespaces/${ns}/configmaps/from-yaml`, { body: [{ op: 'remove', path: '/nope/deeper' }], contentType: 'application/json-patch+json' }, 400, 'BadRequest', /.+/);
    await expectStatus('PATCH', `/api/v1/namespaces/${ns}/configmaps/from-yaml`, { body: '{bad', contentType: 'application/merge-patch+json' }, 400, 'BadRequest', /json parse error/);
  });

  test('garbage on the TLS port does not take the server down', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: server.port, ca: server.caCertPem, servername: 'localhost' }, () => {
        socket.write('NOT HTTP AT ALL\r\n\r\n');
      });
      socket.on('data', () => socket.destroy());
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    const alive = await apiRequest(server, 'GET', '/version');
    assert.equal(alive.status, 200);
  });
});
