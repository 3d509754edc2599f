// A throwaway certificate authority for HBONE tests: an ECDSA P-256 root and X.509-SVID leaves
// (only a SPIFFE URI SAN, client and server auth), made with @peculiar/x509 on WebCrypto. Keys
// live in memory; nothing is written to disk.
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { WorkloadCertificate } from '../../agent/src/hbone/workload-credential-store.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const HOUR_MS = 3_600_000;

let serial = 1;
function nextSerial(): string {
  serial++;
  // A leading non-zero digit: Node prints serial numbers without leading zeros.
  return `1${serial.toString(16).padStart(7, '0')}`;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function leafExtensions(spiffeId: string): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true),
  ];
}

export class TestCa {
  private constructor(
    private readonly certificate: x509.X509Certificate,
    private readonly keys: webcrypto.CryptoKeyPair,
  ) {}

  static async create(name = 'weft test root'): Promise<TestCa> {
    const keys = await keyPair();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: nextSerial(),
      name: `CN=${name}`,
      notBefore: new Date(Date.now() - HOUR_MS),
      notAfter: new Date(Date.now() + 24 * HOUR_MS),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestCa(certificate, keys);
  }

  get bundlePem(): string {
    return this.certificate.toString('pem') + '\n';
  }

  /** An X.509-SVID for `spiffeId` signed by this root. */
  async issue(spiffeId: string): Promise<WorkloadCertificate & { serialNumber: string }> {
    const keys = await keyPair();
    const serialNumber = nextSerial();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: '',
      issuer: this.certificate.subject,
      notBefore: new Date(Date.now() - HOUR_MS),
      notAfter: new Date(Date.now() + HOUR_MS),
      signingKey: this.keys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        ...leafExtensions(spiffeId),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
    return { certificateChainPem: leaf.toString('pem') + '\n', privateKeyPem: await privateKeyPem(keys.privateKey), serialNumber };
  }
}

/** A self-signed leaf that looks like an X.509-SVID but chains to nothing anyone trusts. */
export async function selfSignedSvid(spiffeId: string): Promise<WorkloadCertificate> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: 'CN=impostor',
    notBefore: new Date(Date.now() - HOUR_MS),
    notAfter: new Date(Date.now() + HOUR_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: leafExtensions(spiffeId),
  });
  return { certificateChainPem: certificate.toString('pem') + '\n', privateKeyPem: await privateKeyPem(keys.privateKey) };
}
