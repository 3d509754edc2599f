// The agent side of issuance: a fresh ECDSA P-256 key pair for one workload identity and a CSR
// whose only SAN is its SPIFFE URI. The private key stays in this process (never on disk, never
// sent); only the CSR goes to `weft ca`.
import { KeyObject } from 'node:crypto';
import { x509, webcrypto } from './x509-crypto.js';

export interface WorkloadKeyAndCsr {
  csrPem: string;
  /** PKCS#8 PEM of the private key, for tls.createSecureContext. */
  privateKeyPem: string;
}

export async function createWorkloadKeyAndCsr(spiffeId: string): Promise<WorkloadKeyAndCsr> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  });
  return {
    csrPem: `${csr.toString('pem')}\n`,
    privateKeyPem: KeyObject.from(keys.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}
