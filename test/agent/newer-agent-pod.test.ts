// During a surge upgrade the old agent answers "not ready" once a newer agent pod of its
// DaemonSet exists on its node: the decision, on hand-made pod lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { newerAgentPod } from '../../agent/src/lifecycle/newer-agent-pod.js';

const own = { namespace: 'weft-system', name: 'weft-agent-old' };

function agentPod(name: string, created: string, extra: { owner?: string; deleting?: boolean; controller?: boolean } = {}): V1Pod {
  return {
    metadata: {
      namespace: 'weft-system',
      name,
      creationTimestamp: new Date(created),
      ...(extra.deleting ? { deletionTimestamp: new Date('2026-12-03T12:00:00Z') } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'weft-agent', uid: extra.owner ?? 'ds-uid', controller: extra.controller ?? true }],
    },
  };
}

test('a newer pod of the same DaemonSet on the node is found', () => {
  const newer = agentPod('weft-agent-new', '2026-12-03T10:00:05Z');
  assert.equal(newerAgentPod([agentPod('weft-agent-old', '2026-12-03T10:00:00Z'), newer], own), newer);
});

test('no claim for the newer pod itself, an older pod, one being deleted, another controller, or the same second', () => {
  const old = agentPod('weft-agent-old', '2026-12-03T10:00:00Z');
  assert.equal(newerAgentPod([old], own), undefined, 'alone');
  assert.equal(newerAgentPod([old, agentPod('weft-agent-older', '2026-12-03T09:00:00Z')], own), undefined, 'an older pod');
  assert.equal(newerAgentPod([old, agentPod('weft-agent-new', '2026-12-03T10:00:05Z', { deleting: true })], own), undefined, 'being deleted');
  assert.equal(newerAgentPod([old, agentPod('other-agent', '2026-12-03T10:00:05Z', { owner: 'other-uid' })], own), undefined, 'another DaemonSet');
  assert.equal(newerAgentPod([old, agentPod('weft-agent-new', '2026-12-03T10:00:05Z', { controller: false })], own), undefined, 'not its controller');
  assert.equal(newerAgentPod([old, agentPod('weft-agent-twin', '2026-12-03T10:00:00Z')], own), undefined, 'same second: no order known');
  assert.equal(newerAgentPod([agentPod('weft-agent-new', '2026-12-03T10:00:05Z')], own), undefined, 'own pod not in the cache yet');
  const newAgentsView = newerAgentPod([old, agentPod('weft-agent-new', '2026-12-03T10:00:05Z')], { namespace: 'weft-system', name: 'weft-agent-new' });
  assert.equal(newAgentsView, undefined, 'the newer agent is not replaced by the older one');
});
