// A fresh self-signed root for a cluster that has no `weft-ca` Secret yet: ECDSA P-256, CA:TRUE,
// ten years. Generated once; the Secret keeps it across CA restarts.
import { KeyObject } from 'node:crypto';
import { x509, webcrypto } from '../identity/x509-crypto.js';

export interface GeneratedRoot {
  certificatePem: string;
  keyPem: string;
}

const ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;

export async function generateRootCa(trustDomain: string, now = new Date()): Promise<GeneratedRoot> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: `O=Weft, CN=Weft root CA for ${trustDomain}`,
    keys,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + ROOT_LIFETIME_MS),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey)
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
  return { certificatePem: certificate.toString('pem') + '\n', keyPem };
}
