// How a workload's TLS context is built, in one place, for WorkloadCredentials implementations
// (the in-memory store here, the agent's certificate manager later): its certificate chain and
// key, the trust bundle as the CA store that peers are verified against, and TLS 1.3 as the
// floor. The client side takes its protocol floor from this context, so building it elsewhere
// without minVersion would let a peer negotiate TLS 1.2.
import tls from 'node:tls';

export interface WorkloadSecureContextInput {
  /** Leaf first, then intermediates (PEM). */
  certificateChainPem: string;
  privateKeyPem: string;
  trustBundlePem: string;
}

/** Throws when the key does not match the certificate or a PEM block is malformed. */
export function createWorkloadSecureContext(input: WorkloadSecureContextInput): tls.SecureContext {
  return tls.createSecureContext({
    cert: input.certificateChainPem,
    key: input.privateKeyPem,
    ca: input.trustBundlePem,
    minVersion: 'TLSv1.3',
  });
}
