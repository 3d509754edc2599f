// The signing identity of the CA: the issuer certificate and its private key, from the `weft-ca`
// Secret's `ca.crt` (issuer first, then any chain up to a root) and `ca.key` (PEM: PKCS#8, SEC1 or
// PKCS#1). Either the root the CA generated for itself or an intermediate a user supplied; the
// issuer is checked once at load so a bad Secret stops the CA with a message, not a bad chain later.
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { x509, webcrypto } from '../identity/x509-crypto.js';

export interface Issuer {
  certificate: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.EcdsaParams | webcrypto.Algorithm;
  /** `ca.crt` as given: the issuer and the chain above it, PEM each; sent after every leaf. */
  chainPem: string[];
  /** What peers trust: the self-signed certificates of the chain, else its last certificate. */
  trustBundlePem: string;
  /** False when ca.crt stops below a self-signed root (OpenSSL peers then refuse the bundle). */
  chainEndsInRoot: boolean;
}

export class IssuerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IssuerError';
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemCertificates(pem: string): string[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => `${block}\n`);
}

interface KeyAlgorithms {
  importAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  signingAlgorithm: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

function keyAlgorithms(key: ReturnType<typeof createPrivateKey>, where: string): KeyAlgorithms {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') {
      return { importAlgorithm: { name: 'ECDSA', namedCurve: 'P-256' }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } };
    }
    if (curve === 'secp384r1') {
      return { importAlgorithm: { name: 'ECDSA', namedCurve: 'P-384' }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } };
    }
    throw new IssuerError(`${where} is an EC key on curve ${curve ?? 'unknown'}; use P-256 or P-384`);
  }
  if (type === 'rsa') {
    return {
      importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    };
  }
  throw new IssuerError(`${where} is a ${type ?? 'unknown'} key; the CA signs with ECDSA (P-256, P-384) or RSA keys`);
}

/** Validates the pair and imports the key; `where` names the source in error messages. */
export async function loadIssuer(certificatesPem: string, keyPem: string, where: string, now = new Date()): Promise<Issuer> {
  const chainPem = splitPemCertificates(certificatesPem);
  if (chainPem.length === 0) throw new IssuerError(`${where} ca.crt holds no PEM certificate`);
  let certificates: x509.X509Certificate[];
  try {
    certificates = chainPem.map((pem) => new x509.X509Certificate(pem));
  } catch (err) {
    throw new IssuerError(`${where} ca.crt is not a valid certificate: ${(err as Error).message}`);
  }
  const certificate = certificates[0]!;
  let privateKey;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    throw new IssuerError(`${where} ca.key is not a PEM private key: ${(err as Error).message}`);
  }
  const spkiOfKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (!spkiOfKey.equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new IssuerError(`${where} ca.key does not belong to the first certificate in ca.crt (${certificate.subject})`);
  }
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) throw new IssuerError(`${where} ca.crt (${certificate.subject}) is not a CA certificate (basicConstraints CA:TRUE missing)`);
  const usages = certificate.getExtension(x509.KeyUsagesExtension);
  if (usages && (usages.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new IssuerError(`${where} ca.crt (${certificate.subject}) may not sign certificates (keyUsage lacks keyCertSign)`);
  }
  if (certificate.notAfter <= now || certificate.notBefore > now) {
    throw new IssuerError(`${where} ca.crt (${certificate.subject}) is not valid now (valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()})`);
  }
  const algorithms = keyAlgorithms(privateKey, `${where} ca.key`);
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    privateKey.export({ format: 'der', type: 'pkcs8' }),
    algorithms.importAlgorithm,
    false,
    ['sign'],
  );
  const roots = chainPem.filter((pem) => {
    const parsed = new NodeX509Certificate(pem);
    return parsed.subject === parsed.issuer && parsed.verify(parsed.publicKey);
  });
  return {
    certificate,
    signingKey,
    signingAlgorithm: algorithms.signingAlgorithm,
    chainPem,
    trustBundlePem: (roots.length > 0 ? roots : [chainPem[chainPem.length - 1]!]).join(''),
    chainEndsInRoot: roots.length > 0,
  };
}
