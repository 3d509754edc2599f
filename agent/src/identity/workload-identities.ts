// The node's workload identities, end to end: the trust bundle from the cluster, one certificate
// per service account that has an enrolled pod on this node (CertificateManager, signed by
// `weft ca`), and the TLS credentials built from them (WorkloadCredentialStore) that the HBONE
// client and server use. A new trust bundle re-verifies peers at once and re-issues every
// certificate from the new issuer.
import type { Logger } from 'pino';
import type { AgentCaConfig } from '../config/agent-config.js';
import { WorkloadCredentialStore } from '../hbone/workload-credential-store.js';
import type { TrustBundleWatch } from '../k8s/trust-bundle-watch.js';
import type { IdentityMetrics } from '../metrics/identity-metrics.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import type { ServiceClusterIpLookup } from './ca-address.js';
import { CaSigner } from './ca-signer.js';
import { CertificateManager, type WorkloadCertificate } from './certificate-manager.js';
import { formatWorkloadSpiffeId } from './spiffe-id.js';

export interface WorkloadIdentitiesOptions {
  trustDomain: string;
  ca: AgentCaConfig;
  trustBundle: TrustBundleWatch;
  /** Resolves a `<svc>.<ns>.svc` CA address without DNS (see ca-address.ts). */
  serviceClusterIp: ServiceClusterIpLookup;
  metrics: IdentityMetrics;
  log: Logger;
}

/** How often the wait for a missing trust bundle says so in the log. */
const BUNDLE_WAIT_LOG_MS = 10_000;

export class WorkloadIdentities {
  private readonly signer: CaSigner;
  private store: WorkloadCredentialStore | undefined;
  private manager: CertificateManager | undefined;
  private stopped = false;
  /** Set while start() waits for the first trust bundle; stop() calls it. */
  private cancelBundleWait: (() => void) | undefined;
  private readonly issuedWaiters = new Set<() => void>();

  constructor(private readonly options: WorkloadIdentitiesOptions) {
    this.signer = new CaSigner(options.ca, options.serviceClusterIp);
  }

  /** The TLS credentials of this node's identities; defined once start() resolved. */
  get credentials(): WorkloadCredentialStore {
    if (this.store === undefined) throw new Error('workload identities are not started');
    return this.store;
  }

  get trustBundleLoaded(): boolean {
    return this.store !== undefined;
  }

  /**
   * Every identity of this node's enrolled pods has a valid certificate (readiness: a restarted
   * or upgraded agent is not ready until it can speak for its pods again).
   */
  allCertificatesIssued(): boolean {
    const manager = this.manager;
    return manager !== undefined && manager.identities().every((identity) => manager.current(identity) !== undefined);
  }

  /**
   * Resolves true once allCertificatesIssued() holds, or false after timeoutMs. The agent waits
   * on it before it listens: a listener shares its ports with the agent it replaces (or ends
   * the hold of new connects), so it must be able to speak for its pods from the first one.
   */
  whenCertificatesIssued(timeoutMs: number): Promise<boolean> {
    if (this.allCertificatesIssued()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = (issued: boolean): void => {
        clearTimeout(timer);
        this.issuedWaiters.delete(check);
        resolve(issued);
      };
      const check = (): void => {
        if (this.allCertificatesIssued()) settle(true);
      };
      const timer = setTimeout(() => settle(false), timeoutMs);
      this.issuedWaiters.add(check);
    });
  }

  /** Identities with a valid certificate now, and when each expires (debug endpoint). */
  certificates(): { identity: string; serialNumber: string; notAfter: string }[] {
    const manager = this.manager;
    if (manager === undefined) return [];
    return manager.identities().flatMap((identity) => {
      const certificate = manager.current(identity);
      return certificate ? [{ identity, serialNumber: certificate.serialNumber, notAfter: new Date(certificate.notAfterMs).toISOString() }] : [];
    });
  }

  /** Resolves once the trust bundle is known (the HBONE server and client need it to exist). */
  async start(): Promise<void> {
    const { trustBundle, log } = this.options;
    await trustBundle.start();
    const bundlePem = await this.firstBundle();
    // stop() may have come while the bundle was on its way: build nothing it would not close.
    if (this.stopped) throw new Error('stopped while waiting for the trust bundle');
    this.store = new WorkloadCredentialStore(this.options.trustDomain, bundlePem);
    this.signer.setTrustBundle(bundlePem);
    this.manager = new CertificateManager({
      signer: this.signer,
      validitySeconds: this.options.ca.certTtlSeconds,
      log: log.child({ subsys: 'identity' }),
      onChange: this.onCertificateChange,
      onRequest: (result) => this.options.metrics.caRequests.labels(result).inc(),
    });
    trustBundle.onBundle(this.onTrustBundle);
  }

  /** Keeps a certificate for exactly the service accounts of this node's enrolled pods. */
  update(snapshot: MeshSnapshot): void {
    this.manager?.setWanted(
      snapshot.enrolledLocalPods.map((pod) =>
        formatWorkloadSpiffeId({ trustDomain: this.options.trustDomain, namespace: pod.namespace, serviceAccount: pod.serviceAccount }),
      ),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelBundleWait?.();
    this.manager?.stop();
    this.signer.close();
    await this.options.trustBundle.stop();
  }

  private firstBundle(): Promise<string> {
    const { trustBundle, log } = this.options;
    const known = trustBundle.bundle();
    if (known !== undefined) return Promise.resolve(known);
    log.warn({ configMap: `${trustBundle.namespace}/weft-trust-bundle` }, 'waiting for the trust bundle; mesh traffic is refused until it exists');
    return new Promise((resolve, reject) => {
      const reminder = setInterval(() => {
        log.warn({ configMap: `${trustBundle.namespace}/weft-trust-bundle` }, 'still waiting for the trust bundle (is weft ca running?)');
      }, BUNDLE_WAIT_LOG_MS);
      const settle = (): void => {
        clearInterval(reminder);
        this.cancelBundleWait = undefined;
      };
      // stop() ends the wait at once: a reminder left behind would keep the process alive.
      this.cancelBundleWait = () => {
        settle();
        reject(new Error('stopped while waiting for the trust bundle'));
      };
      trustBundle.onBundle((pem) => {
        settle();
        resolve(pem);
      });
    });
  }

  private readonly onTrustBundle = (bundlePem: string): void => {
    if (this.store === undefined || bundlePem === this.store.trustBundlePem()) return;
    this.store.setTrustBundle(bundlePem);
    this.signer.setTrustBundle(bundlePem);
    this.manager?.rotateAll();
  };

  private readonly onCertificateChange = (identity: string, certificate: WorkloadCertificate | undefined): void => {
    const store = this.store;
    if (store === undefined) return;
    if (certificate === undefined) store.removeCertificate(identity);
    else store.setCertificate(identity, { certificateChainPem: certificate.certChainPem.join('\n'), privateKeyPem: certificate.privateKeyPem });
    this.options.metrics.certificateChanged(identity, certificate?.notAfterMs);
    for (const check of [...this.issuedWaiters]) check();
  };
}
