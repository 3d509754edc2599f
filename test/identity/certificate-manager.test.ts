// The agent's certificate manager with a real signing CA (made here with @peculiar/x509) and a
// controlled clock: issue before use, rotate at half the lifetime, keep a valid certificate
// while the CA fails, drop it once expired, forget identities that left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { x509, webcrypto } from '../../agent/src/identity/x509-crypto.js';
import { pino } from 'pino';
import { waitFor } from '../support/wait-for.js';
import { CertificateManager, type CertificateSigner, type Scheduler } from '../../agent/src/identity/certificate-manager.js';

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const id = 'spiffe://cluster.local/ns/shop/sa/web';

class TestCa implements CertificateSigner {
  constructor(private readonly clock: { now(): number } = Date) {}
  failing = false;
  issued = 0;
  private keys?: webcrypto.CryptoKeyPair;
  async sign(csrPem: string, validitySeconds: number): Promise<string[]> {
    if (this.failing) throw new Error('CA unavailable (test)');
    this.keys ??= (await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const now = this.clock.now(); // the test's clock, so validity matches the manager's view
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: (++this.issued).toString(16).padStart(2, '0'),
      subject: '', issuer: 'CN=test-ca',
      notBefore: new Date(now - 1000), notAfter: new Date(now + validitySeconds * 1000),
      publicKey: csr.publicKey, signingKey: this.keys.privateKey, signingAlgorithm: alg,
      extensions: csr.extensions.filter((e) => e instanceof x509.SubjectAlternativeNameExtension),
    });
    return [leaf.toString('pem')];
  }
}

class ManualClock implements Scheduler {
  offsetMs = 0;
  timers = new Map<number, { fn: () => void; at: number }>();
  private next = 1;
  now() { return Date.now() + this.offsetMs; }
  setTimeout(fn: () => void, ms: number) { const h = this.next++; this.timers.set(h, { fn, at: this.now() + ms }); return h; }
  clearTimeout(h: unknown) { this.timers.delete(h as number); }
  random() { return 0.5; }
  /** Moves time forward and fires what came due. */
  advance(ms: number) {
    this.offsetMs += ms;
    for (const [h, t] of [...this.timers]) if (t.at <= this.now()) { this.timers.delete(h); t.fn(); }
  }
  pendingDelays() { return [...this.timers.values()].map((t) => t.at - this.now()); }
  /** The earliest pending timer (the expiry timer of a certificate is always later than its renewal). */
  nextDelay() { return Math.min(...this.pendingDelays()); }
}

const log = pino({ level: 'silent' });

test('issues before use and rotates at half the lifetime', async () => {
  const clock = new ManualClock();
  const ca = new TestCa(clock);
  const changes: string[] = [];
  const manager = new CertificateManager({ signer: ca, validitySeconds: 60, log, scheduler: clock, onChange: (i, c) => changes.push(c ? 'issued' : 'dropped') });
  manager.setWanted([id]);
  const first = await waitFor(() => manager.current(id), { what: 'first certificate' });
  const leaf = new X509Certificate(first.certChainPem[0]!);
  assert.equal(leaf.subjectAltName, `URI:${id}`);
  const delay = clock.nextDelay();
  assert.ok(delay > 27_000 && delay! < 33_000, `rotation due at half of 60 s, got ${delay}`);
  clock.advance(delay);
  const second = await waitFor(() => manager.current(id) !== first && manager.current(id), { what: 'rotated certificate' });
  assert.notEqual(new X509Certificate(second.certChainPem[0]!).serialNumber, leaf.serialNumber);
  assert.deepEqual(changes, ['issued', 'issued']);
  manager.stop();
});

test('keeps a valid certificate while the CA fails, with growing backoff, and drops it once expired', async () => {
  const clock = new ManualClock();
  const ca = new TestCa(clock);
  const results: string[] = [];
  const manager = new CertificateManager({ signer: ca, validitySeconds: 60, log, scheduler: clock, initialBackoffMs: 1000, maxBackoffMs: 8000, onRequest: (r) => results.push(r) });
  manager.setWanted([id]);
  const cert = await waitFor(() => manager.current(id), { what: 'certificate' });
  ca.failing = true;
  clock.advance(clock.nextDelay()); // rotation attempt fails
  await waitFor(() => results.length === 2, { what: 'failed renewal' });
  assert.equal(manager.current(id), cert, 'still valid: still used');
  const backoffs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const d = clock.nextDelay();
    backoffs.push(Math.round(d / 1000));
    clock.advance(d);
    await waitFor(() => results.length === 3 + i, { what: `retry ${i + 1}` });
  }
  assert.deepEqual(backoffs, [1, 2, 4]);
  const before = results.length;
  clock.advance(cert.notAfterMs - clock.now() + 1); // fires the pending retry too, which fails
  assert.equal(manager.current(id), undefined, 'an expired certificate is never used');
  await waitFor(() => results.length > before && clock.pendingDelays().length === 1, { what: 'retry after expiry' });
  ca.failing = false;
  clock.advance(clock.nextDelay());
  await waitFor(() => manager.current(id), { what: 'recovered certificate' });
  manager.stop();
});

test('an expired certificate is withdrawn at its expiry, also while the next retry is far away', async () => {
  const clock = new ManualClock();
  const ca = new TestCa(clock);
  const changes: string[] = [];
  const manager = new CertificateManager({
    signer: ca, validitySeconds: 60, log, scheduler: clock, initialBackoffMs: 120_000, maxBackoffMs: 120_000,
    onChange: (_i, c) => changes.push(c ? 'issued' : 'dropped'),
  });
  manager.setWanted([id]);
  const cert = await waitFor(() => manager.current(id), { what: 'certificate' });
  ca.failing = true;
  clock.advance(clock.nextDelay()); // the renewal fails; the next try is two minutes away
  await waitFor(() => clock.pendingDelays().some((d) => d > 60_000), { what: 'long backoff scheduled' });
  clock.advance(cert.notAfterMs - clock.now() + 1);
  assert.deepEqual(changes, ['issued', 'dropped'], 'the store hears of the expiry at once, not at the next retry');
  manager.stop();
  assert.deepEqual(clock.pendingDelays(), [], 'stop clears every timer');
});

test('a trust-bundle change during a request in flight re-issues once that request is answered', async () => {
  const ca = new TestCa();
  let release: (() => void) | undefined;
  const gated: CertificateSigner = {
    sign: async (csr, ttl) => {
      await new Promise<void>((resolve) => (release = resolve));
      return ca.sign(csr, ttl);
    },
  };
  const manager = new CertificateManager({ signer: gated, validitySeconds: 60, log, scheduler: new ManualClock() });
  manager.setWanted([id]);
  await waitFor(() => release !== undefined, { what: 'first request in flight' });
  manager.rotateAll(); // the answer on its way may come from the old issuer
  const firstRelease = release!;
  release = undefined;
  firstRelease();
  await waitFor(() => release !== undefined, { what: 'a second request after the first answer' });
  release!();
  await waitFor(() => ca.issued === 2 && manager.current(id)?.serialNumber === '02', { what: 'the re-issued certificate in use' });
  manager.stop();
});

test('identities that leave are dropped with their timers', async () => {
  const manager = new CertificateManager({ signer: new TestCa(), validitySeconds: 60, log, scheduler: new ManualClock() });
  manager.setWanted([id]);
  await waitFor(() => manager.current(id), { what: 'certificate' });
  manager.setWanted([]);
  assert.equal(manager.current(id), undefined);
  assert.deepEqual(manager.identities(), []);
});
