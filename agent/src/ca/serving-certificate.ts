// The CA's own TLS certificate for its gRPC port, issued at start by the same issuer agents trust,
// so an agent that holds the trust bundle can verify the CA it talks to. The key exists only in
// this process's memory.
import { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { x509, webcrypto } from '../identity/x509-crypto.js';
import type { Issuer } from './issuer.js';
import { authorityKeyIdentifier, CLOCK_SKEW_ALLOWANCE_MS } from './workload-certificate.js';

export interface ServingCertificate {
  /** Leaf then the issuer chain, PEM, as TLS servers want it. */
  certificateChainPem: string;
  keyPem: string;
  notAfter: Date;
}

const SERVING_LIFETIME_MS = 365 * 24 * 3600 * 1000;

/** The names a Service is reached by inside the cluster: name, name.ns, name.ns.svc, name.ns.svc.<domain>. */
export function serviceDnsNames(serviceName: string, namespace: string, clusterDomain = 'cluster.local'): string[] {
  return [serviceName, `${serviceName}.${namespace}`, `${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.${clusterDomain}`];
}

export async function issueServingCertificate(
  issuer: Issuer,
  dnsNames: readonly string[],
  ipAddresses: readonly string[],
  now = new Date(),
): Promise<ServingCertificate> {
  for (const ip of ipAddresses) if (isIP(ip) === 0) throw new Error(`serving certificate IP SAN "${ip}" is not an IP address`);
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const wanted = new Date(now.getTime() + SERVING_LIFETIME_MS);
  const notAfter = wanted < issuer.certificate.notAfter ? wanted : issuer.certificate.notAfter;
  const certificate = await x509.X509CertificateGenerator.create({
    subject: `CN=${dnsNames[0] ?? 'weft-ca'}`,
    issuer: issuer.certificate.subjectName,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: issuer.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyIdentifier(issuer),
    ],
  });
  return {
    certificateChainPem: [`${certificate.toString('pem')}\n`, ...issuer.chainPem].join(''),
    keyPem: KeyObject.from(keys.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString(),
    notAfter,
  };
}
