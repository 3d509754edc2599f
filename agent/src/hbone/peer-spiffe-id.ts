// The SPIFFE ID a peer certificate speaks for. An X.509-SVID carries exactly one URI SAN, the
// SPIFFE ID; anything else (no URI SAN, several, not a workload ID) is not a mesh identity.
import type { X509Certificate } from 'node:crypto';
import { formatWorkloadSpiffeId, parseWorkloadSpiffeId, type WorkloadIdentity } from '../identity/spiffe-id.js';

export type PeerIdentityResult =
  | { ok: true; spiffeId: string; identity: WorkloadIdentity }
  | { ok: false; reason: string };

/**
 * Reads Node's `subjectaltname` rendering ("URI:spiffe://..., DNS:x"). Node quotes entries that
 * contain separators as JSON strings; a SPIFFE ID never needs that, so a quoted URI is refused.
 */
export function peerSpiffeId(subjectAltName: string | undefined): PeerIdentityResult {
  if (subjectAltName === undefined || subjectAltName === '') return { ok: false, reason: 'the certificate has no subject alternative name' };
  const uris: string[] = [];
  for (const entry of subjectAltName.split(', ')) {
    if (entry.startsWith('URI:')) uris.push(entry.slice(4));
  }
  if (uris.length !== 1) return { ok: false, reason: `the certificate has ${uris.length} URI SANs, an X.509-SVID has exactly one` };
  try {
    const identity = parseWorkloadSpiffeId(uris[0]!);
    return { ok: true, spiffeId: formatWorkloadSpiffeId(identity), identity };
  } catch (err) {
    if ((err as Error).name === 'SpiffeIdError') return { ok: false, reason: (err as Error).message };
    throw err;
  }
}

export function peerSpiffeIdOfCertificate(certificate: X509Certificate | undefined): PeerIdentityResult {
  if (certificate === undefined) return { ok: false, reason: 'the peer presented no certificate' };
  return peerSpiffeId(certificate.subjectAltName);
}
