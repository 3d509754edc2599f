// How long a workload certificate lives: the caller's wish, defaulted and capped by the CA.
import { CaRequestError } from './ca-request-error.js';

/** Below a minute, rotation at half-life would hammer the CA; also the flags' floor. */
export const MIN_LIFETIME_SECONDS = 60;

export interface LifetimePolicy {
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

/** `requestedSeconds` 0 means "the default". */
export function certificateLifetimeSeconds(requestedSeconds: number, policy: LifetimePolicy): number {
  if (!Number.isSafeInteger(requestedSeconds) || requestedSeconds < 0) {
    throw new CaRequestError('invalid-argument', `validity_seconds must be a non-negative integer, got ${requestedSeconds}`);
  }
  if (requestedSeconds === 0) return Math.min(policy.defaultTtlSeconds, policy.maxTtlSeconds);
  if (requestedSeconds < MIN_LIFETIME_SECONDS) {
    throw new CaRequestError('invalid-argument', `validity_seconds must be 0 (the default) or at least ${MIN_LIFETIME_SECONDS}, got ${requestedSeconds}`);
  }
  return Math.min(requestedSeconds, policy.maxTtlSeconds);
}
