// Compact JWS (RFC 7515) with ES256, as kube-apiserver signs service-account tokens when its key
// is ECDSA P-256. Node's crypto does the signing; the signature is the raw r||s form JWS wants
// (dsaEncoding 'ieee-p1363'), not DER.
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** The key id kube-apiserver puts in `kid`: base64url(SHA-256(DER public key)). */
export function keyIdOf(publicKey: KeyObject): string {
  return b64url(createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest());
}

export function signJws(payload: object, privateKey: KeyObject): string {
  const header = { alg: 'ES256', kid: keyIdOf(createPublicKey(privateKey)) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

export type JwsParse =
  | { ok: true; header: Record<string, unknown>; payload: Record<string, unknown>; signingInput: string; signature: Buffer }
  | { ok: false };

function decodeJsonPart(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined; // not JSON: this is not a JWS at all, which callers report as such
  }
}

/** Splits and decodes a compact JWS without checking its signature. */
export function parseJws(token: string): JwsParse {
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]*$/.test(parts[2]!)) return { ok: false };
  const header = decodeJsonPart(parts[0]!);
  const payload = decodeJsonPart(parts[1]!);
  if (!header || !payload) return { ok: false };
  return { ok: true, header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
}

/** True when the ES256 signature over the signing input is valid for `publicKey`. */
export function verifyEs256(signingInput: string, signature: Buffer, publicKey: KeyObject): boolean {
  if (signature.length !== 64) return false;
  return verify('sha256', Buffer.from(signingInput), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
}
