// AgentCaTokens against a stand-in TokenRequest endpoint: what it asks for, where and how it
// writes the token, and that it refreshes once 80% of the token's lifetime has passed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CoreV1Api } from '@kubernetes/client-node';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { AgentCaTokens, agentCaTokenFile } from './agent-ca-token.js';

let temp: TempDir | undefined;
after(async () => temp?.remove());

test('writes a pod-bound weft-ca token per node (0600) and refreshes it before it expires', async () => {
  temp = await makeTempDir('agent-ca-token');
  const requests: any[] = [];
  let issued = 0;
  // Tokens that live 2 s, so the refresh (at 80%) comes after about 1.6 s.
  const core = {
    createNamespacedServiceAccountToken: async (request: any) => {
      requests.push(request);
      issued++;
      return { status: { token: `token-${issued}`, expirationTimestamp: new Date(Date.now() + 2000) } };
    },
  } as unknown as CoreV1Api;
  const tokens = new AgentCaTokens({
    core,
    runDir: temp.path,
    pods: new Map([['node-1', { name: 'weft-agent-node-1', uid: 'uid-1' }]]),
    log: () => {},
  });
  const startedAt = Date.now();
  await tokens.start();
  try {
    const file = agentCaTokenFile(temp.path, 'node-1');
    assert.equal(file, join(temp.path, 'agent-node-1', 'ca-token'));
    assert.equal(await readFile(file, 'utf8'), 'token-1');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(requests[0].name, 'weft-agent');
    assert.equal(requests[0].namespace, 'weft-system');
    assert.deepEqual(requests[0].body.spec, {
      audiences: ['weft-ca'],
      expirationSeconds: 3600,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'weft-agent-node-1', uid: 'uid-1' },
    });
    await waitFor(async () => (await readFile(file, 'utf8')) === 'token-2' || undefined, { timeoutMs: 10_000, what: 'the refreshed token' });
    // Not right away: at 80% of the 2 s lifetime (a little slack for timer granularity).
    assert.ok(Date.now() - startedAt >= 1500, `refreshed after ${Date.now() - startedAt} ms`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  } finally {
    tokens.stop();
  }
});
