import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { generateRootCa } from '../../agent/src/ca/root-ca.js';
import { loadIssuer, IssuerError } from '../../agent/src/ca/issuer.js';
import { checkWorkloadCsr } from '../../agent/src/ca/workload-csr.js';
import { issueWorkloadCertificate } from '../../agent/src/ca/workload-certificate.js';
import { issueServingCertificate } from '../../agent/src/ca/serving-certificate.js';
import { createWorkloadKeyAndCsr } from '../../agent/src/identity/workload-csr-builder.js';
import { x509 } from '../../agent/src/identity/x509-crypto.js';
import { makeTempDir } from '../support/temp-dir.js';
import { opensslIntermediate } from './csr-fixtures.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';

test('a workload certificate has the CSR key, only the SPIFFE URI SAN, leaf usages and the asked lifetime', async () => {
  const root = await generateRootCa('cluster.local');
  const issuer = await loadIssuer(root.certificatePem, root.keyPem, 'test');
  const { csrPem } = await createWorkloadKeyAndCsr(ID);
  const checked = await checkWorkloadCsr(csrPem, 'cluster.local');
  const now = new Date();
  const issued = await issueWorkloadCertificate(issuer, checked, 90, now);
  assert.equal(issued.chainPem.length, 2);
  assert.equal(issued.chainPem[1], root.certificatePem);

  const leaf = new X509Certificate(issued.chainPem[0]!);
  const rootCert = new X509Certificate(root.certificatePem);
  assert.ok(leaf.verify(rootCert.publicKey), 'signed by the root');
  assert.ok(leaf.checkIssued(rootCert));
  assert.equal(leaf.subjectAltName, `URI:${ID}`);
  assert.equal(leaf.ca, false);
  assert.deepEqual(leaf.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(Date.parse(leaf.validTo), Math.floor(now.getTime() / 1000) * 1000 + 90_000);
  assert.ok(Date.parse(leaf.validFrom) <= now.getTime());
  assert.equal(leaf.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'), Buffer.from(checked.publicKey.rawData).toString('hex'));

  const parsed = new x509.X509Certificate(issued.chainPem[0]!);
  const usages = parsed.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(usages.usages, x509.KeyUsageFlags.digitalSignature, 'digitalSignature only (no keyEncipherment for EC keys)');
  assert.ok(usages.critical);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension)!;
  assert.ok(san.critical, 'SAN is critical because the subject is empty');
  assert.equal(parsed.subject, '');
  assert.equal(parsed.getExtension(x509.BasicConstraintsExtension)!.ca, false);
});

test('a certificate never outlives its issuer', async () => {
  const root = await generateRootCa('cluster.local');
  const issuer = await loadIssuer(root.certificatePem, root.keyPem, 'test');
  const checked = await checkWorkloadCsr((await createWorkloadKeyAndCsr(ID)).csrPem, 'cluster.local');
  const farFuture = new Date(issuer.certificate.notAfter.getTime() - 60_000);
  const issued = await issueWorkloadCertificate(issuer, checked, 24 * 3600, farFuture);
  assert.equal(issued.notAfter.getTime(), issuer.certificate.notAfter.getTime());
});

test('an issuer whose key does not match, or that is not a CA, is refused at load', async () => {
  const a = await generateRootCa('cluster.local');
  const b = await generateRootCa('cluster.local');
  await assert.rejects(loadIssuer(a.certificatePem, b.keyPem, 'Secret x/weft-ca'), (err: unknown) => err instanceof IssuerError && /does not belong/.test(err.message));
  await assert.rejects(loadIssuer('', a.keyPem, 'Secret x/weft-ca'), /no PEM certificate/);
  await assert.rejects(loadIssuer(a.certificatePem, 'nope', 'Secret x/weft-ca'), /not a PEM private key/);
  const issuer = await loadIssuer(a.certificatePem, a.keyPem, 'test');
  const serving = await issueServingCertificate(issuer, ['weft-ca'], ['127.0.0.1']);
  await assert.rejects(loadIssuer(serving.certificateChainPem, serving.keyPem, 'Secret x/weft-ca'), /not a CA certificate/);
});

test('an intermediate made with the openssl CLI (SEC1 key) signs, and the chain verifies with openssl', async () => {
  const dir = await makeTempDir('ca-intermediate');
  try {
    const user = opensslIntermediate(dir.path);
    const issuer = await loadIssuer(user.intermediatePem + user.rootPem, user.intermediateKeyPem, 'test');
    assert.equal(issuer.trustBundlePem.trim(), user.rootPem.trim(), 'the self-signed root is the trust bundle');
    assert.equal(issuer.chainEndsInRoot, true);
    const withoutRoot = await loadIssuer(user.intermediatePem, user.intermediateKeyPem, 'test');
    assert.equal(withoutRoot.chainEndsInRoot, false, 'flagged so the CA warns');
    assert.equal(withoutRoot.trustBundlePem.trim(), user.intermediatePem.trim());
    const checked = await checkWorkloadCsr((await createWorkloadKeyAndCsr(ID)).csrPem, 'cluster.local');
    const issued = await issueWorkloadCertificate(issuer, checked, 3600);
    assert.equal(issued.chainPem.length, 3, 'leaf, intermediate, root');
    writeFileSync(join(dir.path, 'leaf.crt'), issued.chainPem[0]!);
    writeFileSync(join(dir.path, 'untrusted.crt'), issued.chainPem[1]!);
    const verdict = execFileSync('openssl', ['verify', '-CAfile', 'root.crt', '-untrusted', 'untrusted.crt', '-purpose', 'sslclient', 'leaf.crt'], { cwd: dir.path, encoding: 'utf8' });
    assert.match(verdict, /leaf\.crt: OK/);
  } finally {
    await dir.remove();
  }
});
