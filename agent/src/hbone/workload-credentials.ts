// What the HBONE tunnel needs from the agent's certificate manager: one TLS context per workload
// identity (its certificate chain, private key and the trust bundle as CA), the trust bundle
// itself, and a signal when any of that changed. The certificate manager (identity/) owns
// issuance and rotation; the tunnel only reads. Contexts are built once per certificate and
// swapped on rotation, never per request or per connection (a SecureContext costs milliseconds).

import type tls from 'node:tls';

/** A canonical SPIFFE ID string: `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`. */
export type SpiffeId = string;

export interface WorkloadCredentials {
  /** The trust domain this node's workloads belong to; peers outside it are refused. */
  readonly trustDomain: string;
  /**
   * The context to speak TLS as `identity` (client and server side alike), or undefined when
   * there is no valid certificate for it. Build it with createWorkloadSecureContext
   * (workload-secure-context.ts): the trust bundle as CA and TLS 1.3 as the floor. The same object is returned until the certificate
   * or the trust bundle changes.
   */
  secureContextFor(identity: SpiffeId): tls.SecureContext | undefined;
  /** PEM of the CA certificates peers' chains must lead to. */
  trustBundlePem(): string;
  /** Called after a certificate was added, rotated or removed, or the trust bundle changed. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}
