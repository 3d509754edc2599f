// CSRs for CA tests, good and deliberately bad, built with @peculiar/x509 (what the agent uses)
// or the openssl CLI (what an operator might use), so the CA is checked against both.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { x509, webcrypto } from '../../agent/src/identity/x509-crypto.js';

type KeySpec = { name: 'ECDSA'; namedCurve: 'P-256' | 'P-384' } | { name: 'RSASSA-PKCS1-v1_5'; modulusLength: number };

export async function generateKeys(spec: KeySpec = { name: 'ECDSA', namedCurve: 'P-256' }): Promise<webcrypto.CryptoKeyPair> {
  const algorithm = spec.name === 'ECDSA' ? spec : { ...spec, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

export interface CsrOptions {
  keys?: webcrypto.CryptoKeyPair;
  names?: { type: 'url' | 'dns' | 'ip' | 'email'; value: string }[];
  /** Omit the SAN extension entirely. */
  noSan?: boolean;
}

export async function buildCsr(options: CsrOptions = {}): Promise<string> {
  const keys = options.keys ?? (await generateKeys());
  const algorithm = (keys.privateKey.algorithm as { name: string }).name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=ignored-by-the-ca',
    keys,
    signingAlgorithm: algorithm,
    extensions: options.noSan ? [] : [new x509.SubjectAlternativeNameExtension(options.names ?? [])],
  });
  return `${csr.toString('pem')}\n`;
}

/** A CSR whose signature was made by another key than the one it carries. */
export async function buildCsrWithForeignSignature(spiffeId: string): Promise<string> {
  const carried = await generateKeys();
  const signer = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: { publicKey: carried.publicKey, privateKey: signer.privateKey },
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  });
  return `${csr.toString('pem')}\n`;
}

/** `openssl req` with a fresh P-256 key and the given subjectAltName (e.g. "URI:spiffe://..."). */
export function opensslCsr(subjectAltName: string): string {
  return execFileSync(
    'openssl',
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/O=test', '-addext', `subjectAltName=${subjectAltName}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

export interface OpensslIntermediate {
  rootPem: string;
  intermediatePem: string;
  /** The intermediate's key as openssl writes it (SEC1 PEM), as a user would put it in the Secret. */
  intermediateKeyPem: string;
}

/** A user's own root and mesh intermediate, made with the openssl CLI in `dir`. */
export function opensslIntermediate(dir: string): OpensslIntermediate {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key');
  openssl('req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=Acme/CN=Acme root', '-days', '30', '-out', 'root.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'int.key');
  openssl('req', '-new', '-key', 'int.key', '-subj', '/O=Acme/CN=Acme mesh intermediate', '-out', 'int.csr');
  writeFileSync(join(dir, 'int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  openssl('x509', '-req', '-in', 'int.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-CAcreateserial', '-days', '10', '-extfile', 'int.ext', '-out', 'int.crt');
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { rootPem: read('root.crt'), intermediatePem: read('int.crt'), intermediateKeyPem: read('int.key') };
}
