// Who is asking, and from which node: the caller's service-account token is checked with the
// TokenReview API (for our audience), must belong to the agent's service account, and names its
// node through the claims Kubernetes puts in `extra` - the node directly, or the pod the token is
// bound to, whose spec.nodeName we then read. A token that is not bound to a pod or node cannot
// say where it runs, so it is refused: node scoping is the whole point.
import type { TokenReviewResult } from '../k8s/token-reviewer.js';
import type { PodPlacement } from '../k8s/workload-pods.js';
import { CaRequestError } from './ca-request-error.js';

export const NODE_NAME_CLAIM = 'authentication.kubernetes.io/node-name';
export const POD_NAME_CLAIM = 'authentication.kubernetes.io/pod-name';
export const POD_UID_CLAIM = 'authentication.kubernetes.io/pod-uid';

export interface CallerPolicy {
  /** The audience agents request their tokens for (TokenRequest `audiences`). */
  audience: string;
  /** The agent's service-account username, `system:serviceaccount:<ns>:<name>`. */
  agentUsername: string;
}

export interface AuthenticatedCaller {
  username: string;
  nodeName: string;
  /** The agent pod the token is bound to, when the node came from it. */
  boundPod?: string;
}

/** What the token review alone says about where the caller runs. */
export type CallerPlacementClaim =
  | { username: string; nodeName: string }
  | { username: string; boundPodNamespace: string; boundPodName: string; boundPodUid?: string };

export interface TokenReviewerPort {
  review(token: string, audiences: readonly string[]): Promise<TokenReviewResult>;
}

export interface BoundPodLookup {
  byName(namespace: string, name: string): Promise<PodPlacement | undefined>;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function unauthenticated(reason: string): CaRequestError {
  return new CaRequestError('unauthenticated', reason);
}

function denied(reason: string): CaRequestError {
  return new CaRequestError('permission-denied', reason);
}

/** The token from `authorization: Bearer <token>` metadata values. */
export function bearerToken(values: readonly unknown[]): string {
  if (values.length === 0) throw unauthenticated('no authorization metadata; send "authorization: Bearer <service-account token>"');
  if (values.length > 1) throw unauthenticated('more than one authorization metadata value');
  const value = values[0];
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  if (!match) throw unauthenticated('authorization metadata is not "Bearer <token>"');
  return match[1]!;
}

/** Splits `system:serviceaccount:<ns>:<name>`; throws for anything else. */
export function serviceAccountOfUsername(username: string): { namespace: string; name: string } {
  const parts = username.split(':');
  if (parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount' || !parts[2] || !parts[3]) {
    throw new Error(`"${username}" is not a service-account username (system:serviceaccount:<namespace>:<name>)`);
  }
  return { namespace: parts[2], name: parts[3] };
}

function singleClaim(extra: Record<string, string[]>, claim: string): string | undefined {
  const values = extra[claim];
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw unauthenticated(`token has ${values.length} values for ${claim}`);
  return values[0];
}

/** The pure part of authentication: decides on a token review result. */
export function claimFromTokenReview(review: TokenReviewResult, policy: CallerPolicy): CallerPlacementClaim {
  if (!review.authenticated) throw unauthenticated(`token rejected by the API server${review.error ? `: ${review.error}` : ''}`);
  // An audience-aware server answers with the audiences it matched; an empty list would mean
  // "valid for the API server itself", which a token meant for the CA must not be.
  if (!review.audiences.includes(policy.audience)) {
    throw unauthenticated(`token is not valid for audience "${policy.audience}"; request it with that audience`);
  }
  const username = review.username ?? '';
  if (username !== policy.agentUsername) {
    throw denied(`caller "${username}" is not the Weft agent's service account (${policy.agentUsername})`);
  }
  const nodeName = singleClaim(review.extra, NODE_NAME_CLAIM);
  if (nodeName !== undefined) {
    if (!NODE_NAME.test(nodeName)) throw unauthenticated(`token names an invalid node "${nodeName}"`);
    return { username, nodeName };
  }
  const boundPodName = singleClaim(review.extra, POD_NAME_CLAIM);
  if (boundPodName === undefined) {
    throw denied('token is bound to neither a node nor a pod, so the CA cannot tell which node asks; use a pod-bound projected token');
  }
  return {
    username,
    boundPodNamespace: serviceAccountOfUsername(username).namespace,
    boundPodName,
    boundPodUid: singleClaim(review.extra, POD_UID_CLAIM),
  };
}

export class CallerAuthenticator {
  constructor(
    private readonly reviewer: TokenReviewerPort,
    private readonly pods: BoundPodLookup,
    private readonly policy: CallerPolicy,
  ) {}

  async authenticate(token: string): Promise<AuthenticatedCaller> {
    let review: TokenReviewResult;
    try {
      review = await this.reviewer.review(token, [this.policy.audience]);
    } catch (err) {
      throw new CaRequestError('unavailable', `token review failed, try again: ${(err as Error).message}`);
    }
    const claim = claimFromTokenReview(review, this.policy);
    if ('nodeName' in claim) return claim;
    let pod: PodPlacement | undefined;
    try {
      pod = await this.pods.byName(claim.boundPodNamespace, claim.boundPodName);
    } catch (err) {
      throw new CaRequestError('unavailable', `reading the caller's pod failed, try again: ${(err as Error).message}`);
    }
    const podRef = `${claim.boundPodNamespace}/${claim.boundPodName}`;
    if (!pod || (claim.boundPodUid !== undefined && pod.uid !== claim.boundPodUid)) {
      throw unauthenticated(`token is bound to pod ${podRef}, which no longer exists`);
    }
    if (!pod.nodeName) throw denied(`caller's pod ${podRef} is not scheduled on a node`);
    return { username: claim.username, nodeName: pod.nodeName, boundPod: podRef };
  }
}
