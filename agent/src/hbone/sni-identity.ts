// The tunnel client tells the destination node which workload identity to present through SNI.
// A SPIFFE ID is not a host name, so it is encoded as one: `<serviceaccount>.<namespace>.sa.weft`.
// Service account names are DNS subdomains (may contain dots) and namespaces are DNS labels (no
// dots), so parsing from the right is unambiguous. The trust domain is not encoded: a node only
// serves identities of its own trust domain.
import { formatWorkloadSpiffeId, parseWorkloadSpiffeId } from '../identity/spiffe-id.js';
import type { SpiffeId } from './workload-credentials.js';

const SNI_SUFFIX = '.sa.weft';
const NAMESPACE_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `spiffe://td/ns/demo/sa/web` -> `web.demo.sa.weft` (throws on a malformed SPIFFE ID). */
export function sniForIdentity(identity: SpiffeId): string {
  const parsed = parseWorkloadSpiffeId(identity);
  const name = `${parsed.serviceAccount}.${parsed.namespace}${SNI_SUFFIX}`;
  if (name.length > 253) throw new Error(`identity ${identity} is too long to be named in SNI (${name.length} > 253 characters)`);
  return name;
}

/** The identity an SNI name asks for in `trustDomain`, or undefined when it is not such a name. */
export function identityFromSni(serverName: string, trustDomain: string): SpiffeId | undefined {
  const name = serverName.toLowerCase();
  if (!name.endsWith(SNI_SUFFIX)) return undefined;
  const rest = name.slice(0, -SNI_SUFFIX.length);
  const dot = rest.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const namespace = rest.slice(dot + 1);
  const serviceAccount = rest.slice(0, dot);
  if (!NAMESPACE_LABEL.test(namespace)) return undefined;
  try {
    return formatWorkloadSpiffeId(
      parseWorkloadSpiffeId(`spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`),
    );
  } catch (err) {
    if ((err as Error).name === 'SpiffeIdError') return undefined;
    throw err;
  }
}
