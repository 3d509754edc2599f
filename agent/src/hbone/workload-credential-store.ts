// An in-memory WorkloadCredentials: the certificate manager (or a test) puts PEM certificates
// and keys in, and every put builds that identity's SecureContext once. A trust bundle change
// rebuilds every context (the bundle is each context's CA store). Listeners hear about each
// change, so the inbound server can refresh its default context and pools can stop reusing
// sessions opened with an old certificate.
import type tls from 'node:tls';
import { formatWorkloadSpiffeId, parseWorkloadSpiffeId } from '../identity/spiffe-id.js';
import type { SpiffeId, WorkloadCredentials } from './workload-credentials.js';
import { createWorkloadSecureContext } from './workload-secure-context.js';

export interface WorkloadCertificate {
  /** Leaf first, then intermediates (PEM). */
  certificateChainPem: string;
  privateKeyPem: string;
}

/** Every certificate and the trust bundle, as plain data (what the proxy workers receive). */
export interface CredentialsSnapshot {
  trustBundlePem: string;
  certificates: [SpiffeId, WorkloadCertificate][];
}

interface StoredCredential {
  readonly certificate: WorkloadCertificate;
  readonly context: tls.SecureContext;
}

export class WorkloadCredentialStore implements WorkloadCredentials {
  private readonly credentials = new Map<SpiffeId, StoredCredential>();
  private readonly listeners = new Set<() => void>();
  private bundlePem: string;

  constructor(
    readonly trustDomain: string,
    trustBundlePem: string,
  ) {
    if (!trustBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error('the trust bundle must contain at least one PEM certificate');
    }
    this.bundlePem = trustBundlePem;
  }

  secureContextFor(identity: SpiffeId): tls.SecureContext | undefined {
    return this.credentials.get(identity)?.context;
  }

  trustBundlePem(): string {
    return this.bundlePem;
  }

  identities(): SpiffeId[] {
    return [...this.credentials.keys()];
  }

  /** The certificates and bundle as plain data, to rebuild the same store elsewhere (applySnapshot). */
  snapshot(): CredentialsSnapshot {
    return {
      trustBundlePem: this.bundlePem,
      certificates: [...this.credentials].map(([identity, stored]) => [identity, stored.certificate]),
    };
  }

  /**
   * Makes this store hold exactly what `snapshot` holds, rebuilding only the contexts whose
   * certificate or bundle changed (an unchanged context keeps its TLS sessions and pools).
   */
  applySnapshot(snapshot: CredentialsSnapshot): void {
    if (snapshot.trustBundlePem !== this.bundlePem) this.setTrustBundle(snapshot.trustBundlePem);
    const wanted = new Map(snapshot.certificates);
    for (const identity of [...this.credentials.keys()]) {
      if (!wanted.has(identity)) this.removeCertificate(identity);
    }
    for (const [identity, certificate] of wanted) {
      const held = this.credentials.get(identity)?.certificate;
      if (held?.certificateChainPem === certificate.certificateChainPem && held.privateKeyPem === certificate.privateKeyPem) continue;
      this.setCertificate(identity, certificate);
    }
  }

  /** Adds or rotates the certificate of `identity` (a canonical SPIFFE ID in this trust domain). */
  setCertificate(identity: SpiffeId, certificate: WorkloadCertificate): void {
    const parsed = parseWorkloadSpiffeId(identity);
    if (parsed.trustDomain !== this.trustDomain) {
      throw new Error(`identity ${identity} is not in the trust domain ${this.trustDomain}`);
    }
    const canonical = formatWorkloadSpiffeId(parsed);
    // Building the context validates that the key matches the certificate (throws otherwise).
    this.credentials.set(canonical, { certificate, context: this.buildContext(certificate) });
    this.notify();
  }

  removeCertificate(identity: SpiffeId): void {
    if (this.credentials.delete(identity)) this.notify();
  }

  setTrustBundle(trustBundlePem: string): void {
    if (!trustBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error('the trust bundle must contain at least one PEM certificate');
    }
    this.bundlePem = trustBundlePem;
    for (const [identity, stored] of this.credentials) {
      this.credentials.set(identity, { certificate: stored.certificate, context: this.buildContext(stored.certificate) });
    }
    this.notify();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private buildContext(certificate: WorkloadCertificate): tls.SecureContext {
    return createWorkloadSecureContext({ ...certificate, trustBundlePem: this.bundlePem });
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
