// Checks a workload's certificate signing request before anything is signed: a PEM PKCS#10
// request with a valid self-signature, an ECDSA P-256 key, and exactly one SAN, the URI of a
// workload SPIFFE ID in our trust domain. The CSR's subject and any other requested extensions
// are ignored: the CA decides every field of the certificate itself.
import { createPublicKey } from 'node:crypto';
import { x509 } from '../identity/x509-crypto.js';
import { parseWorkloadSpiffeId, SpiffeIdError, type WorkloadIdentity } from '../identity/spiffe-id.js';
import { CaRequestError } from './ca-request-error.js';

export interface CheckedCsr {
  /** The requester's public key (SPKI), copied into the certificate. */
  publicKey: x509.PublicKey;
  spiffeId: string;
  identity: WorkloadIdentity;
}

/** Far above a P-256 CSR (~500 bytes); anything larger is not what an agent sends. */
export const MAX_CSR_PEM_BYTES = 16 * 1024;

const SAN_OID = '2.5.29.17';

function invalid(reason: string): CaRequestError {
  return new CaRequestError('invalid-argument', reason);
}

export async function checkWorkloadCsr(csrPem: string, trustDomain: string): Promise<CheckedCsr> {
  if (typeof csrPem !== 'string' || csrPem.trim() === '') throw invalid('csr is empty; send a PEM PKCS#10 certificate request');
  if (csrPem.length > MAX_CSR_PEM_BYTES) throw invalid(`csr is ${csrPem.length} bytes; at most ${MAX_CSR_PEM_BYTES} are accepted`);
  if (!csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw invalid('csr is not PEM: expected a "-----BEGIN CERTIFICATE REQUEST-----" block');
  }
  let csr: x509.Pkcs10CertificateRequest;
  let sanExtensions: x509.Extension[];
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
    sanExtensions = csr.extensions.filter((extension) => extension.type === SAN_OID);
  } catch (err) {
    throw invalid(`csr cannot be parsed as PKCS#10: ${(err as Error).message}`);
  }

  let keyCurve: string | undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
    keyCurve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : key.asymmetricKeyType;
  } catch (err) {
    throw invalid(`csr public key cannot be read: ${(err as Error).message}`);
  }
  if (keyCurve !== 'prime256v1') throw invalid(`csr key is ${keyCurve ?? 'unknown'}; workload keys must be ECDSA P-256`);

  let signatureValid: boolean;
  try {
    signatureValid = await csr.verify();
  } catch (err) {
    throw invalid(`csr signature cannot be checked: ${(err as Error).message}`);
  }
  if (!signatureValid) throw invalid('csr signature does not verify with its own public key');

  if (sanExtensions.length !== 1) {
    throw invalid(`csr must request exactly one subjectAltName extension, found ${sanExtensions.length}`);
  }
  let names: readonly x509.GeneralName[];
  try {
    names = new x509.SubjectAlternativeNameExtension(sanExtensions[0]!.rawData).names.items;
  } catch (err) {
    throw invalid(`csr subjectAltName cannot be parsed: ${(err as Error).message}`);
  }
  if (names.length !== 1 || names[0]!.type !== 'url') {
    const found = names.map((name) => `${name.type}:${name.value}`).join(', ') || 'none';
    throw invalid(`csr must carry exactly one SAN, the SPIFFE URI; found ${found}`);
  }
  const spiffeId = names[0]!.value;
  let identity: WorkloadIdentity;
  try {
    identity = parseWorkloadSpiffeId(spiffeId);
  } catch (err) {
    if (err instanceof SpiffeIdError) throw invalid(`csr SAN: ${err.message}`);
    throw err;
  }
  if (identity.trustDomain !== trustDomain) {
    throw invalid(`csr asks for trust domain "${identity.trustDomain}"; this CA signs only for "${trustDomain}"`);
  }
  return { publicKey: csr.publicKey, spiffeId, identity };
}
