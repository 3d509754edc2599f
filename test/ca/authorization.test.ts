import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bearerToken,
  CallerAuthenticator,
  claimFromTokenReview,
  NODE_NAME_CLAIM,
  POD_NAME_CLAIM,
  POD_UID_CLAIM,
} from '../../agent/src/ca/caller-authenticator.js';
import { authorizeIdentityForNode } from '../../agent/src/ca/node-authorizer.js';
import { certificateLifetimeSeconds } from '../../agent/src/ca/certificate-lifetime.js';
import { CaRequestError, type CaRefusal } from '../../agent/src/ca/ca-request-error.js';
import type { TokenReviewResult } from '../../agent/src/k8s/token-reviewer.js';
import type { PodPlacement } from '../../agent/src/k8s/workload-pods.js';

const policy = { audience: 'weft-ca', agentUsername: 'system:serviceaccount:weft-system:weft-agent' };

function review(overrides: Partial<TokenReviewResult> = {}): TokenReviewResult {
  return { authenticated: true, username: policy.agentUsername, audiences: ['weft-ca'], extra: {}, ...overrides };
}

function refusedWith(refusal: CaRefusal, reason: RegExp) {
  return (err: unknown) => err instanceof CaRequestError && err.refusal === refusal && reason.test(err.reason);
}

test('the bearer token is read from exactly one "Bearer <token>" metadata value', () => {
  assert.equal(bearerToken(['Bearer abc.def']), 'abc.def');
  assert.throws(() => bearerToken([]), refusedWith('unauthenticated', /no authorization metadata/));
  assert.throws(() => bearerToken(['Basic abc']), refusedWith('unauthenticated', /not "Bearer <token>"/));
  assert.throws(() => bearerToken(['Bearer a', 'Bearer b']), refusedWith('unauthenticated', /more than one/));
});

test('a token review names the node directly, or the bound pod to look up', () => {
  assert.deepEqual(claimFromTokenReview(review({ extra: { [NODE_NAME_CLAIM]: ['node-1'], [POD_NAME_CLAIM]: ['agent-x'] } }), policy), {
    username: policy.agentUsername,
    nodeName: 'node-1',
  });
  assert.deepEqual(claimFromTokenReview(review({ extra: { [POD_NAME_CLAIM]: ['agent-x'], [POD_UID_CLAIM]: ['u1'] } }), policy), {
    username: policy.agentUsername,
    boundPodNamespace: 'weft-system',
    boundPodName: 'agent-x',
    boundPodUid: 'u1',
  });
});

test('token reviews that do not prove an agent on a node are refused', () => {
  assert.throws(() => claimFromTokenReview(review({ authenticated: false, error: 'token expired' }), policy), refusedWith('unauthenticated', /token expired/));
  assert.throws(() => claimFromTokenReview(review({ audiences: [] }), policy), refusedWith('unauthenticated', /audience "weft-ca"/));
  assert.throws(
    () => claimFromTokenReview(review({ username: 'system:serviceaccount:shop:web', extra: { [NODE_NAME_CLAIM]: ['node-1'] } }), policy),
    refusedWith('permission-denied', /"system:serviceaccount:shop:web" is not the Weft agent/),
  );
  assert.throws(() => claimFromTokenReview(review(), policy), refusedWith('permission-denied', /bound to neither a node nor a pod/));
  assert.throws(() => claimFromTokenReview(review({ extra: { [NODE_NAME_CLAIM]: ['node-1,spec.x=y'] } }), policy), refusedWith('unauthenticated', /invalid node/));
});

test('a pod-bound token without a node claim takes the node from the bound pod, which must still exist', async () => {
  const pods = new Map<string, PodPlacement>([
    ['weft-system/agent-a', { name: 'agent-a', namespace: 'weft-system', uid: 'u1', serviceAccountName: 'weft-agent', nodeName: 'node-7' }],
    ['weft-system/agent-pending', { name: 'agent-pending', namespace: 'weft-system', uid: 'u2', serviceAccountName: 'weft-agent' }],
  ]);
  const lookup = { byName: async (ns: string, name: string) => pods.get(`${ns}/${name}`) };
  const reviewer = (extra: Record<string, string[]>) => ({ review: async () => review({ extra }) });
  const authenticate = (extra: Record<string, string[]>) => new CallerAuthenticator(reviewer(extra), lookup, policy).authenticate('t');

  assert.deepEqual(await authenticate({ [POD_NAME_CLAIM]: ['agent-a'], [POD_UID_CLAIM]: ['u1'] }), {
    username: policy.agentUsername,
    nodeName: 'node-7',
    boundPod: 'weft-system/agent-a',
  });
  await assert.rejects(authenticate({ [POD_NAME_CLAIM]: ['agent-a'], [POD_UID_CLAIM]: ['old-uid'] }), refusedWith('unauthenticated', /no longer exists/));
  await assert.rejects(authenticate({ [POD_NAME_CLAIM]: ['gone'] }), refusedWith('unauthenticated', /no longer exists/));
  await assert.rejects(authenticate({ [POD_NAME_CLAIM]: ['agent-pending'] }), refusedWith('permission-denied', /not scheduled on a node/));
  const failing = new CallerAuthenticator({ review: async () => { throw new Error('connect ECONNREFUSED'); } }, lookup, policy);
  await assert.rejects(failing.authenticate('t'), refusedWith('unavailable', /ECONNREFUSED/));
});

test('an identity is allowed only to a node running an unfinished pod of that service account', () => {
  const identity = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' };
  const pod = (name: string, nodeName: string, serviceAccountName = 'web', phase = 'Running', namespace = 'shop'): PodPlacement => ({ name, namespace, serviceAccountName, nodeName, phase });
  assert.deepEqual(authorizeIdentityForNode(identity, 'node-1', [pod('web-1', 'node-1')]), { allowed: true, pod: 'shop/web-1' });
  assert.deepEqual(authorizeIdentityForNode(identity, 'node-1', [pod('web-1', 'node-1', 'web', 'Pending')]), { allowed: true, pod: 'shop/web-1' });
  const elsewhere = authorizeIdentityForNode(identity, 'node-1', [pod('web-2', 'node-2'), pod('db-1', 'node-1', 'db'), pod('web-9', 'node-1', 'web', 'Running', 'other')]);
  assert.deepEqual(elsewhere, { allowed: false, reason: 'no pod of service account shop/web is scheduled on node node-1' });
  const finished = authorizeIdentityForNode(identity, 'node-1', [pod('job-1', 'node-1', 'web', 'Succeeded'), pod('job-2', 'node-1', 'web', 'Failed')]);
  assert.equal(finished.allowed, false);
  assert.match((finished as { reason: string }).reason, /have all finished \(job-1, job-2\)/);
});

test('the lifetime is the request capped at the maximum, the default for 0, and never under a minute', () => {
  const lifetimes = { defaultTtlSeconds: 86_400, maxTtlSeconds: 7_200 };
  assert.equal(certificateLifetimeSeconds(0, lifetimes), 7_200);
  assert.equal(certificateLifetimeSeconds(600, lifetimes), 600);
  assert.equal(certificateLifetimeSeconds(10 * 86_400, lifetimes), 7_200);
  assert.equal(certificateLifetimeSeconds(60, lifetimes), 60);
  assert.throws(() => certificateLifetimeSeconds(59, lifetimes), refusedWith('invalid-argument', /at least 60/));
  assert.throws(() => certificateLifetimeSeconds(-5, lifetimes), refusedWith('invalid-argument', /non-negative/));
});
