// Keeps one certificate per workload identity that has an enrolled pod on this node: issued
// before traffic needs it, rotated at half its lifetime (with jitter, so a node's identities do
// not all renew at once) and when the trust bundle changes, retried with backoff while the CA is
// unavailable. A certificate that is still valid keeps being used until its replacement arrives;
// an expired one is dropped, so its workload's mesh traffic is refused rather than sent in
// plaintext. Keys are generated here and never leave the process.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { createWorkloadKeyAndCsr } from './workload-csr-builder.js';

export interface CertificateSigner {
  /** Returns the PEM chain, leaf first. Rejects with a reason when the CA refuses or is down. */
  sign(csrPem: string, validitySeconds: number): Promise<string[]>;
}

export interface WorkloadCertificate {
  spiffeId: string;
  certChainPem: string[];
  privateKeyPem: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** Hex, as X509Certificate gives it: tells one issuance from the next (logs, debug, tests). */
  serialNumber: string;
}

/** Timers and the clock, injectable so tests control time exactly. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: () => Math.random(),
};

export interface CertificateManagerOptions {
  signer: CertificateSigner;
  validitySeconds: number;
  log: Logger;
  scheduler?: Scheduler;
  /** First retry delay after a failure; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called with the identity whenever its certificate is replaced or dropped. */
  onChange?: (spiffeId: string, certificate: WorkloadCertificate | undefined) => void;
  /** Called after every CA request with its outcome. */
  onRequest?: (result: 'ok' | 'error') => void;
}

interface Slot {
  certificate?: WorkloadCertificate;
  timer?: unknown;
  /** Fires when the certificate expires, so it stops being used even between retries. */
  expiryTimer?: unknown;
  inFlight: boolean;
  /** The trust bundle changed while a request was in flight: its answer may be from the old issuer. */
  reissue?: boolean;
  backoffMs: number;
}

export class CertificateManager {
  private readonly slots = new Map<string, Slot>();
  private readonly scheduler: Scheduler;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly options: CertificateManagerOptions) {
    this.scheduler = options.scheduler ?? realScheduler;
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  /** The identity's certificate if it has a valid one now. */
  current(spiffeId: string): WorkloadCertificate | undefined {
    const certificate = this.slots.get(spiffeId)?.certificate;
    if (!certificate) return undefined;
    return certificate.notAfterMs > this.scheduler.now() ? certificate : undefined;
  }

  identities(): string[] {
    return [...this.slots.keys()];
  }

  /** Makes the wanted set of identities the managed set: new ones are issued, gone ones dropped. */
  setWanted(spiffeIds: Iterable<string>): void {
    const wanted = new Set(spiffeIds);
    for (const [id, slot] of this.slots) {
      if (wanted.has(id)) continue;
      this.clearTimers(slot);
      this.slots.delete(id);
      this.options.onChange?.(id, undefined);
    }
    for (const id of wanted) {
      if (this.slots.has(id)) continue;
      this.slots.set(id, { inFlight: false, backoffMs: this.initialBackoffMs });
      void this.issue(id);
    }
  }

  /** The trust bundle changed: every identity gets a certificate from the new issuer. */
  rotateAll(): void {
    for (const [id, slot] of this.slots) {
      if (slot.inFlight) slot.reissue = true;
      else void this.issue(id);
    }
  }

  stop(): void {
    for (const slot of this.slots.values()) this.clearTimers(slot);
    this.slots.clear();
  }

  private clearTimers(slot: Slot): void {
    if (slot.timer !== undefined) this.scheduler.clearTimeout(slot.timer);
    if (slot.expiryTimer !== undefined) this.scheduler.clearTimeout(slot.expiryTimer);
  }

  private schedule(id: string, slot: Slot, delayMs: number): void {
    if (slot.timer !== undefined) this.scheduler.clearTimeout(slot.timer);
    slot.timer = this.scheduler.setTimeout(() => {
      slot.timer = undefined;
      void this.issue(id);
    }, Math.max(0, delayMs));
  }

  private async issue(id: string): Promise<void> {
    const slot = this.slots.get(id);
    if (!slot || slot.inFlight) return;
    slot.inFlight = true;
    try {
      const { csrPem, privateKeyPem } = await createWorkloadKeyAndCsr(id);
      const chain = await this.options.signer.sign(csrPem, this.options.validitySeconds);
      if (this.slots.get(id) !== slot) return; // dropped meanwhile
      const leaf = new X509Certificate(chain[0] ?? '');
      if (!leaf.subjectAltName?.split(', ').includes(`URI:${id}`)) {
        throw new Error(`the CA returned a certificate for ${leaf.subjectAltName ?? 'no SAN'}, not ${id}`);
      }
      const certificate: WorkloadCertificate = {
        spiffeId: id,
        certChainPem: chain,
        privateKeyPem,
        notBeforeMs: Date.parse(leaf.validFrom),
        notAfterMs: Date.parse(leaf.validTo),
        serialNumber: leaf.serialNumber,
      };
      slot.certificate = certificate;
      slot.backoffMs = this.initialBackoffMs;
      if (slot.expiryTimer !== undefined) this.scheduler.clearTimeout(slot.expiryTimer);
      slot.expiryTimer = this.scheduler.setTimeout(() => {
        slot.expiryTimer = undefined;
        this.dropIfExpired(id, slot);
      }, certificate.notAfterMs - this.scheduler.now() + 1);
      this.options.onRequest?.('ok');
      this.options.onChange?.(id, certificate);
      // Renew at half the lifetime, +-10%, counted from now (the CA may have capped it).
      const lifetimeMs = certificate.notAfterMs - this.scheduler.now();
      const jitter = 0.9 + 0.2 * this.scheduler.random();
      this.schedule(id, slot, (lifetimeMs / 2) * jitter);
      this.options.log.info({ identity: id, serial: leaf.serialNumber, notAfter: leaf.validTo }, 'workload certificate issued');
    } catch (err) {
      if (this.slots.get(id) !== slot) return;
      this.options.onRequest?.('error');
      const delayMs = slot.backoffMs;
      slot.backoffMs = Math.min(slot.backoffMs * 2, this.maxBackoffMs);
      this.dropIfExpired(id, slot);
      this.options.log.warn({ identity: id, err, retryInMs: delayMs }, 'certificate request failed; retrying');
      this.schedule(id, slot, delayMs);
    } finally {
      slot.inFlight = false;
      if (slot.reissue && this.slots.get(id) === slot) {
        slot.reissue = false;
        void this.issue(id);
      }
    }
  }

  private dropIfExpired(id: string, slot: Slot): void {
    if (slot.certificate && slot.certificate.notAfterMs <= this.scheduler.now()) {
      slot.certificate = undefined;
      this.options.onChange?.(id, undefined);
      this.options.log.error({ identity: id }, 'workload certificate expired and could not be renewed: its mesh traffic is refused');
    }
  }
}
