// SPIFFE identities of Weft workloads: `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`.
// Parsing is strict (the SPIFFE ID spec plus Kubernetes name rules), because the CA signs exactly
// what this accepts and peers authorize on exactly what it returns.

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export class SpiffeIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpiffeIdError';
  }
}

/** SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (spec section 2.1). */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** Kubernetes namespace: an RFC 1123 label. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Kubernetes service account name: an RFC 1123 subdomain. */
const SERVICE_ACCOUNT = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isValidTrustDomain(trustDomain: string): boolean {
  return trustDomain.length > 0 && trustDomain.length <= 255 && TRUST_DOMAIN.test(trustDomain);
}

/** Throws SpiffeIdError naming the first thing wrong with `uri`. */
export function parseWorkloadSpiffeId(uri: string): WorkloadIdentity {
  const prefix = 'spiffe://';
  if (!uri.startsWith(prefix)) throw new SpiffeIdError(`"${uri}" is not a SPIFFE ID: it must start with spiffe://`);
  const rest = uri.slice(prefix.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (!isValidTrustDomain(trustDomain)) {
    throw new SpiffeIdError(`"${uri}" has an invalid trust domain "${trustDomain}" (lowercase letters, digits, '.', '-', '_'; no port or user info)`);
  }
  const segments = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') {
    throw new SpiffeIdError(`"${uri}" is not a workload identity of the form spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`);
  }
  const namespace = segments[1]!;
  const serviceAccount = segments[3]!;
  if (namespace.length > 63 || !NAMESPACE.test(namespace)) {
    throw new SpiffeIdError(`"${uri}" names an invalid namespace "${namespace}"`);
  }
  if (serviceAccount.length > 253 || !SERVICE_ACCOUNT.test(serviceAccount)) {
    throw new SpiffeIdError(`"${uri}" names an invalid service account "${serviceAccount}"`);
  }
  return { trustDomain, namespace, serviceAccount };
}

export function formatWorkloadSpiffeId(identity: WorkloadIdentity): string {
  return `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}
