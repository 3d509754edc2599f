// Routes that make ClusterIPs routable inside a node namespace. A real node has a default route,
// so a connect() from the node to a ClusterIP finds a route and the nat output hook then DNATs
// it. Bed nodes have no default route on purpose (nothing may leave the machine), so kube-proxy
// routes each ClusterIP (/32) to a black-hole link instead: a bridge without ports (the kernel
// may lack the dummy module; a bridge drops what it cannot forward just the same). Packets that
// are not DNATed are rejected by the filter hooks before they get there, and nothing leaves the node.
import { HostCommandError, ipBatchIn, ipIn } from '../host-command.js';

/** The black-hole link inside every node namespace (like kube-proxy IPVS mode's kube-ipvs0). */
export const SERVICE_LINK = 'kube-svc0';

/** Creates the link once; a link left by an earlier run in the same namespace is reused. */
export async function ensureServiceLink(netns: string): Promise<void> {
  try {
    await ipIn(netns, ['link', 'add', SERVICE_LINK, 'type', 'bridge']);
  } catch (err) {
    if (!(err instanceof HostCommandError && /File exists/.test(err.stderr))) throw err;
  }
  await ipIn(netns, ['link', 'set', SERVICE_LINK, 'up']);
}

/** The ClusterIPs routed to the service link now. */
export async function listServiceRoutes(netns: string): Promise<string[]> {
  const { stdout } = await ipIn(netns, ['-j', 'route', 'show', 'dev', SERVICE_LINK]);
  const routes = JSON.parse(stdout || '[]') as { dst?: string }[];
  return routes.map((r) => r.dst ?? '').filter((dst) => dst !== '').map((dst) => dst.replace(/\/32$/, ''));
}

/**
 * Adds routes for new ClusterIPs (source: the node IP, so replies come back to it) and removes
 * those of deleted Services, in one `ip -batch`. Existing routes stay, so node-local
 * connections to unchanged Services never see a gap.
 */
export async function syncServiceRoutes(netns: string, nodeIP: string, clusterIPs: readonly string[]): Promise<void> {
  const current = new Set(await listServiceRoutes(netns));
  const wanted = new Set(clusterIPs);
  const commands: string[][] = [];
  for (const ip of wanted) {
    if (!current.has(ip)) commands.push(['route', 'replace', `${ip}/32`, 'dev', SERVICE_LINK, 'src', nodeIP]);
  }
  for (const ip of current) {
    if (!wanted.has(ip)) commands.push(['route', 'del', `${ip}/32`, 'dev', SERVICE_LINK]);
  }
  if (commands.length > 0) await ipBatchIn(netns, commands);
}
