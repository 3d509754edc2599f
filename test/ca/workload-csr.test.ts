import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWorkloadCsr } from '../../agent/src/ca/workload-csr.js';
import { CaRequestError } from '../../agent/src/ca/ca-request-error.js';
import { createWorkloadKeyAndCsr } from '../../agent/src/identity/workload-csr-builder.js';
import { buildCsr, buildCsrWithForeignSignature, generateKeys, opensslCsr } from './csr-fixtures.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/web';

async function refusal(csrPem: string, trustDomain = 'cluster.local'): Promise<string> {
  try {
    await checkWorkloadCsr(csrPem, trustDomain);
  } catch (err) {
    assert.ok(err instanceof CaRequestError, `expected a CaRequestError, got ${String(err)}`);
    assert.equal(err.refusal, 'invalid-argument');
    return err.reason;
  }
  assert.fail('the CSR was accepted');
}

test('the agent\'s CSR and an openssl CSR with one SPIFFE URI SAN are accepted', async () => {
  const agent = await createWorkloadKeyAndCsr(ID);
  const checked = await checkWorkloadCsr(agent.csrPem, 'cluster.local');
  assert.equal(checked.spiffeId, ID);
  assert.deepEqual(checked.identity, { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' });
  const fromOpenssl = await checkWorkloadCsr(opensslCsr(`URI:${ID}`), 'cluster.local');
  assert.equal(fromOpenssl.spiffeId, ID);
});

test('malformed CSRs are refused as invalid arguments naming the problem', async () => {
  assert.match(await refusal(''), /empty/);
  assert.match(await refusal('hello'), /not PEM/);
  assert.match(await refusal('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), /cannot be parsed/);
  assert.match(await refusal(`-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(20_000)}\n-----END CERTIFICATE REQUEST-----\n`), /at most/);
  assert.match(await refusal(await buildCsrWithForeignSignature(ID)), /signature does not verify/);
});

test('keys other than ECDSA P-256 are refused', async () => {
  assert.match(await refusal(await buildCsr({ keys: await generateKeys({ name: 'ECDSA', namedCurve: 'P-384' }), names: [{ type: 'url', value: ID }] })), /secp384r1.*P-256/);
  assert.match(await refusal(await buildCsr({ keys: await generateKeys({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048 }), names: [{ type: 'url', value: ID }] })), /rsa.*P-256/);
});

test('SANs other than the single SPIFFE URI are refused', async () => {
  assert.match(await refusal(await buildCsr({ noSan: true })), /exactly one subjectAltName extension, found 0/);
  assert.match(await refusal(await buildCsr({ names: [{ type: 'url', value: ID }, { type: 'dns', value: 'web.shop' }] })), /exactly one SAN.*dns:web\.shop/);
  assert.match(await refusal(opensslCsr(`URI:${ID},IP:10.0.0.1`)), /exactly one SAN/);
  assert.match(await refusal(await buildCsr({ names: [{ type: 'dns', value: 'web.shop' }] })), /exactly one SAN, the SPIFFE URI; found dns:web\.shop/);
  assert.match(await refusal(await buildCsr({ names: [{ type: 'url', value: 'spiffe://cluster.local/web' }] })), /not a workload identity/);
  assert.match(await refusal(await buildCsr({ names: [{ type: 'url', value: 'spiffe://other.domain/ns/shop/sa/web' }] })), /trust domain "other\.domain".*"cluster\.local"/);
});
