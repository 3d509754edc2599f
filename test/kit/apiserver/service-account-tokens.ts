// Service-account tokens as kube-apiserver issues and checks them (bound tokens): ES256 JWTs
// with iss/sub/aud/exp/iat/nbf/jti and the `kubernetes.io` claim naming the namespace, the
// service account and the pod (and its node) or secret the token is bound to. Verification is
// the same for TokenReview and for requests to this server: signature, audience, time (with
// the one minute leeway real servers allow), then that the service account and the bound
// object still exist with the same uid - deleting the pod invalidates its tokens.
import { randomUUID } from 'node:crypto';
import type { UserInfo } from './authentication.js';
import type { ObjectStore } from './store.js';
import type { KubeObject } from './kube-object.js';
import type { ServiceAccountKey } from './service-account-key.js';
import { parseJws, signJws, verifyEs256 } from './jws.js';

export interface ObjectRef {
  name: string;
  uid: string;
}

/** What a token is bound to; the node rides along with a pod (1.30+ puts it in the claims). */
export interface TokenBinding {
  pod?: ObjectRef;
  node?: { name: string; uid?: string };
  secret?: ObjectRef;
}

export interface IssueRequest {
  namespace: string;
  serviceAccount: ObjectRef;
  audiences: string[];
  expirationSeconds: number;
  binding: TokenBinding;
}

export interface IssuedToken {
  token: string;
  issuedAt: Date;
  expiresAt: Date;
}

export type TokenVerdict =
  | { outcome: 'authenticated'; user: UserInfo; audiences: string[] }
  /** Not a token this issuer made (not a JWT, another issuer): other authenticators may know it. */
  | { outcome: 'not-mine' }
  | { outcome: 'invalid'; reason: string; /** What exactly (server logs only: clients see `reason`, as from kube-apiserver). */ detail?: string };

export interface ServiceAccountTokenOptions {
  issuer: string;
  /** Audiences a token must carry when the caller names none (--api-audiences). */
  apiAudiences: string[];
  /** Milliseconds since the epoch; tests move it to expire tokens without waiting. */
  now: () => number;
}

/** go-jose's default leeway for exp/nbf/iat, which kube-apiserver uses. */
const leewaySeconds = 60;
/** A pod whose deletion timestamp is older than this no longer vouches for its tokens. */
const deletedPodGraceSeconds = 60;

/** Go's %q of a []string, as real error messages print audiences: ["a" "b"]. */
function goQuoted(list: string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

function isRef(value: unknown): value is ObjectRef {
  const v = value as Partial<ObjectRef> | undefined;
  return typeof v?.name === 'string' && typeof v.uid === 'string';
}

interface KubernetesClaim {
  namespace: string;
  serviceaccount: ObjectRef;
  pod?: ObjectRef;
  node?: { name: string; uid?: string };
  secret?: ObjectRef;
}

function kubernetesClaim(payload: Record<string, unknown>): KubernetesClaim | undefined {
  const k = payload['kubernetes.io'] as Partial<KubernetesClaim> | undefined;
  if (typeof k?.namespace !== 'string' || !isRef(k.serviceaccount)) return undefined;
  if (k.pod !== undefined && !isRef(k.pod)) return undefined;
  if (k.secret !== undefined && !isRef(k.secret)) return undefined;
  return k as KubernetesClaim;
}

function audiencesOf(payload: Record<string, unknown>): string[] | undefined {
  const aud = payload.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return aud as string[];
  return undefined;
}

export class ServiceAccountTokens {
  constructor(
    private readonly key: ServiceAccountKey,
    private readonly store: ObjectStore,
    readonly options: ServiceAccountTokenOptions,
  ) {}

  get issuer(): string {
    return this.options.issuer;
  }

  get apiAudiences(): string[] {
    return this.options.apiAudiences;
  }

  now(): Date {
    return new Date(this.options.now());
  }

  issue(request: IssueRequest): IssuedToken {
    const nowMs = this.options.now();
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + request.expirationSeconds;
    const claim: KubernetesClaim = { namespace: request.namespace, serviceaccount: request.serviceAccount };
    if (request.binding.pod) claim.pod = request.binding.pod;
    if (request.binding.node) claim.node = request.binding.node;
    if (request.binding.secret) claim.secret = request.binding.secret;
    const payload = {
      aud: request.audiences,
      exp,
      iat,
      iss: this.options.issuer,
      jti: randomUUID(),
      'kubernetes.io': claim,
      nbf: iat,
      sub: `system:serviceaccount:${request.namespace}:${request.serviceAccount.name}`,
    };
    return { token: signJws(payload, this.key.privateKey), issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
  }

  /**
   * Checks a token for `requestedAudiences` (empty: the API audiences). The order of checks is
   * kube-apiserver's: issuer, signature, audience, time, then the objects it names.
   */
  verify(token: string, requestedAudiences: string[] = []): TokenVerdict {
    const jws = parseJws(token);
    if (!jws.ok || jws.payload.iss !== this.options.issuer) return { outcome: 'not-mine' };
    if (jws.header.alg !== 'ES256' || !verifyEs256(jws.signingInput, jws.signature, this.key.publicKey)) {
      return { outcome: 'invalid', reason: 'square/go-jose: error in cryptographic primitive' };
    }
    const payload = jws.payload;
    const tokenAudiences = audiencesOf(payload) ?? [];
    const effectiveTokenAudiences = tokenAudiences.length > 0 ? tokenAudiences : this.options.apiAudiences;
    const requested = requestedAudiences.length > 0 ? requestedAudiences : this.options.apiAudiences;
    const audiences = effectiveTokenAudiences.filter((a) => requested.includes(a));
    if (audiences.length === 0) {
      return { outcome: 'invalid', reason: `token audiences ${goQuoted(effectiveTokenAudiences)} is invalid for the target audiences ${goQuoted(requested)}` };
    }
    const timeProblem = this.timeProblem(payload);
    if (timeProblem) return { outcome: 'invalid', reason: timeProblem };
    const claim = kubernetesClaim(payload);
    if (!claim || payload.sub !== `system:serviceaccount:${claim.namespace}:${claim.serviceaccount.name}`) {
      return { outcome: 'invalid', reason: 'service account token claims could not be validated' };
    }
    const unbound = this.unboundReason(claim);
    if (unbound !== undefined) return { outcome: 'invalid', reason: 'Token has been invalidated', detail: unbound };
    return { outcome: 'authenticated', user: this.userOf(claim), audiences };
  }

  private timeProblem(payload: Record<string, unknown>): string | undefined {
    const now = this.options.now() / 1000;
    const { exp, nbf, iat } = payload;
    if (typeof exp !== 'number') return 'service account token claims could not be validated';
    if (now > exp + leewaySeconds) return 'service account token has expired';
    if (typeof nbf === 'number' && now + leewaySeconds < nbf) return 'service account token is not valid yet';
    if (typeof iat === 'number' && now + leewaySeconds < iat) return 'service account token is issued in the future';
    return undefined;
  }

  private live(resource: string, namespace: string | undefined, ref: ObjectRef): KubeObject | undefined {
    const obj = this.store.get(resource, namespace, ref.name);
    if (!obj || obj.metadata.uid !== ref.uid) return undefined;
    return obj;
  }

  /**
   * Why the token no longer binds (undefined: the service account and the bound objects still
   * exist with the uids the token names). Clients are only told "Token has been invalidated", as
   * kube-apiserver tells them; the server's log gets this.
   */
  private unboundReason(claim: KubernetesClaim): string | undefined {
    const sa = this.store.get('/serviceaccounts', claim.namespace, claim.serviceaccount.name);
    if (!sa) return `service account ${claim.namespace}/${claim.serviceaccount.name} not found`;
    if (sa.metadata.uid !== claim.serviceaccount.uid || sa.metadata.deletionTimestamp !== undefined) return `service account ${claim.namespace}/${claim.serviceaccount.name} replaced or being deleted`;
    if (claim.secret) {
      const secret = this.live('/secrets', claim.namespace, claim.secret);
      if (!secret || secret.metadata.deletionTimestamp !== undefined) return `bound secret ${claim.namespace}/${claim.secret.name} gone or being deleted`;
    }
    if (claim.pod) {
      const pod = this.store.get('/pods', claim.namespace, claim.pod.name);
      if (!pod) return `bound pod ${claim.namespace}/${claim.pod.name} not found`;
      if (pod.metadata.uid !== claim.pod.uid) return `bound pod ${claim.namespace}/${claim.pod.name} has another uid`;
      const deletion = pod.metadata.deletionTimestamp;
      if (deletion !== undefined && Date.parse(deletion) < this.options.now() - deletedPodGraceSeconds * 1000) return `bound pod ${claim.namespace}/${claim.pod.name} deleted at ${deletion}, more than ${deletedPodGraceSeconds} s ago`;
    }
    return undefined;
  }

  private userOf(claim: KubernetesClaim): UserInfo {
    const extra: Record<string, string[]> = {};
    if (claim.pod) {
      extra['authentication.kubernetes.io/pod-name'] = [claim.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [claim.pod.uid];
    }
    if (claim.node) {
      extra['authentication.kubernetes.io/node-name'] = [claim.node.name];
      if (claim.node.uid) extra['authentication.kubernetes.io/node-uid'] = [claim.node.uid];
    }
    const user: UserInfo = {
      username: `system:serviceaccount:${claim.namespace}:${claim.serviceaccount.name}`,
      uid: claim.serviceaccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${claim.namespace}`],
    };
    if (Object.keys(extra).length > 0) user.extra = extra;
    return user;
  }
}

/** Makes service-account tokens authenticate requests to the API server itself. */
export class ServiceAccountTokenAuthenticator {
  /** `log` gets each refused token's reason, as kube-apiserver logs "Unable to authenticate the request". */
  constructor(
    private readonly tokens: ServiceAccountTokens,
    private readonly log?: (msg: string, fields?: object) => void,
  ) {}

  authenticateToken(token: string): UserInfo | undefined {
    const verdict = this.tokens.verify(token);
    if (verdict.outcome === 'invalid') this.log?.('Unable to authenticate the request', { err: `[invalid bearer token, ${verdict.reason}]`, detail: verdict.detail });
    return verdict.outcome === 'authenticated' ? verdict.user : undefined;
  }
}
