// Signs a workload certificate: the CSR's key, the SPIFFE URI as the only SAN (critical, since the
// subject is empty, RFC 5280 4.2.1.6), digitalSignature, serverAuth+clientAuth, not a CA. It is
// backdated a little for clock skew between nodes and never outlives its issuer.
import { x509 } from '../identity/x509-crypto.js';
import type { Issuer } from './issuer.js';
import type { CheckedCsr } from './workload-csr.js';

/** How far notBefore is set back, so a node whose clock is slightly behind accepts it at once. */
export const CLOCK_SKEW_ALLOWANCE_MS = 30_000;

export interface IssuedCertificate {
  /** Leaf first, then the issuer chain. */
  chainPem: string[];
  notAfter: Date;
  serialNumber: string;
}

export async function authorityKeyIdentifier(issuer: Issuer): Promise<x509.AuthorityKeyIdentifierExtension> {
  const issuerKeyId = issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return issuerKeyId
    ? new x509.AuthorityKeyIdentifierExtension(issuerKeyId)
    : x509.AuthorityKeyIdentifierExtension.create(issuer.certificate.publicKey);
}

export async function issueWorkloadCertificate(
  issuer: Issuer,
  request: CheckedCsr,
  lifetimeSeconds: number,
  now = new Date(),
): Promise<IssuedCertificate> {
  const wanted = new Date(now.getTime() + lifetimeSeconds * 1000);
  const notAfter = wanted < issuer.certificate.notAfter ? wanted : issuer.certificate.notAfter;
  const certificate = await x509.X509CertificateGenerator.create({
    issuer: issuer.certificate.subjectName,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter,
    publicKey: request.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: issuer.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: request.spiffeId }], true),
      await x509.SubjectKeyIdentifierExtension.create(request.publicKey),
      await authorityKeyIdentifier(issuer),
    ],
  });
  return {
    chainPem: [`${certificate.toString('pem')}\n`, ...issuer.chainPem],
    notAfter,
    serialNumber: certificate.serialNumber,
  };
}
