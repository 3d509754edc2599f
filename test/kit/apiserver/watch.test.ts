// Watch semantics: replay from a resourceVersion, initial state for RV 0/absent, selector
// transitions, timeouts, and 410 Expired once the history window no longer covers the RV.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startApiServer } from './server.js';
import type { ApiServerHandle } from './server.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { uniqueName } from '../../support/unique-name.js';
import { apiRequest } from './test-client.js';

function events(text: string): any[] {
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l));
}

describe('watch', () => {
  let dir: TempDir;
  let server: ApiServerHandle;
  let small: ApiServerHandle;
  const ns = uniqueName('w');

  const cm = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { a: '1' } });

  before(async () => {
    dir = await makeTempDir('watch');
    server = await startApiServer({ stateDir: join(dir.path, 'state') });
    small = await startApiServer({ stateDir: join(dir.path, 'small'), watchWindow: 3 });
    for (const s of [server, small]) {
      assert.equal((await apiRequest(s, 'POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } })).status, 201);
    }
  });
  after(async () => {
    await server?.close();
    await small?.close();
    await dir?.remove();
  });

  test('replays every change after a resourceVersion, in order', async () => {
    const list = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps`);
    const from = list.json.metadata.resourceVersion;
    assert.match(from, /^\d+$/);
    await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: cm('one') });
    await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/one`, { body: { data: { a: '2' } }, contentType: 'application/merge-patch+json' });
    await apiRequest(server, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/one`);
    const stream = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${from}&timeoutSeconds=1`);
    const got = events(stream.text);
    assert.deepEqual(got.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
    assert.equal(got[1].object.data.a, '2');
    assert.equal(got[0].object.kind, 'ConfigMap');
  });

  test('without a resourceVersion (or 0) a watch starts with the current objects as ADDED', async () => {
    await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: cm('present') });
    for (const rv of ['', '&resourceVersion=0']) {
      const stream = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&timeoutSeconds=1${rv}`);
      const got = events(stream.text);
      assert.ok(got.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'present'), `rv=${rv || 'absent'}`);
    }
  });

  test('an object that stops matching the selector is DELETED for that watcher, and ADDED when it matches again', async () => {
    const from = (await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps`)).json.metadata.resourceVersion;
    await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: cm('flip', { color: 'red' }) });
    await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/flip`, { body: { metadata: { labels: { color: 'blue' } } }, contentType: 'application/strategic-merge-patch+json' });
    await apiRequest(server, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/flip`, { body: { metadata: { labels: { color: 'red' } } }, contentType: 'application/merge-patch+json' });
    const stream = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&labelSelector=color%3Dred&resourceVersion=${from}&timeoutSeconds=1`);
    assert.deepEqual(events(stream.text).map((e) => e.type), ['ADDED', 'DELETED', 'ADDED']);
  });

  test('a watch from a resourceVersion older than the window gets 410 Expired as an ERROR event', async () => {
    const from = (await apiRequest(small, 'GET', `/api/v1/namespaces/${ns}/configmaps`)).json.metadata.resourceVersion;
    for (let i = 0; i < 5; i++) await apiRequest(small, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: cm(`c${i}`) });
    const stream = await apiRequest(small, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${from}`);
    assert.equal(stream.status, 200);
    const got = events(stream.text);
    assert.equal(got.length, 1);
    assert.equal(got[0].type, 'ERROR');
    assert.equal(got[0].object.kind, 'Status');
    assert.equal(got[0].object.code, 410);
    assert.equal(got[0].object.reason, 'Expired');
    assert.match(got[0].object.message, new RegExp(`^too old resource version: ${from} \\(\\d+\\)$`));
    // A recent resourceVersion is still fine.
    const recent = (await apiRequest(small, 'GET', `/api/v1/namespaces/${ns}/configmaps`)).json.metadata.resourceVersion;
    const ok = await apiRequest(small, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${recent}&timeoutSeconds=1`);
    assert.equal(events(ok.text).length, 0);
  });

  test('compactWatchHistory() makes every older resourceVersion expire', async () => {
    const from = (await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps`)).json.metadata.resourceVersion;
    await apiRequest(server, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: cm('before-compaction') });
    server.compactWatchHistory();
    const stream = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${from}`);
    const got = events(stream.text);
    assert.equal(got[0].type, 'ERROR');
    assert.equal(got[0].object.code, 410);
  });

  test('limit/continue pages through a list; a too old continue token is 410', async () => {
    const pageNs = uniqueName('pages');
    await apiRequest(small, 'POST', '/api/v1/namespaces', { body: { metadata: { name: pageNs } } });
    for (let i = 0; i < 5; i++) await apiRequest(small, 'POST', `/api/v1/namespaces/${pageNs}/configmaps`, { body: cm(`p${i}`) });
    const names: string[] = [];
    let cont = '';
    for (let guard = 0; guard < 10; guard++) {
      const page = await apiRequest(small, 'GET', `/api/v1/namespaces/${pageNs}/configmaps?limit=2${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.json.items.length <= 2);
      names.push(...page.json.items.map((i: any) => i.metadata.name));
      cont = page.json.metadata.continue ?? '';
      if (!cont) break;
    }
    // kube-root-ca.crt: every namespace has it (the root CA publisher), as on a real cluster.
    assert.deepEqual(names, ['kube-root-ca.crt', 'p0', 'p1', 'p2', 'p3', 'p4']);
    const first = await apiRequest(small, 'GET', `/api/v1/namespaces/${pageNs}/configmaps?limit=2`);
    for (let i = 0; i < 5; i++) await apiRequest(small, 'POST', `/api/v1/namespaces/${pageNs}/configmaps`, { body: cm(`q${i}`) });
    const expired = await apiRequest(small, 'GET', `/api/v1/namespaces/${pageNs}/configmaps?limit=2&continue=${encodeURIComponent(first.json.metadata.continue)}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.json.reason, 'Expired');
  });

  test('timeoutSeconds ends the stream; bookmarks carry the current resourceVersion', async () => {
    const started = Date.now();
    const stream = await apiRequest(server, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${(await apiRequest(server, 'GET', '/api/v1/namespaces')).json.metadata.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`);
    assert.ok(Date.now() - started >= 900);
    const got = events(stream.text);
    assert.equal(got.at(-1).type, 'BOOKMARK');
    assert.match(got.at(-1).object.metadata.resourceVersion, /^\d+$/);
  });
});
