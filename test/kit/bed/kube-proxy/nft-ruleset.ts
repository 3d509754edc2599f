// Renders a ServiceProxyPlan as one nftables transaction for one node, shaped like kube-proxy's
// nftables mode: a chain per service port picks an endpoint chain at random (numgen), the
// endpoint chain DNATs to ip:targetPort and marks hairpin traffic (a pod reaching itself through
// its Service) for SNAT to the node IP, and ClusterIP ports without endpoints (or unknown ports of
// a ClusterIP) are rejected, so clients are refused at once instead of hanging.
//
// The script first adds, then deletes, then re-creates the table: nft applies a file as one
// transaction, so the old rules are replaced atomically and a missing table is not an error.
import type { ProxiedServicePort, ServiceProxyPlan } from './service-proxy-plan.js';

export const KUBE_PROXY_TABLE = 'weft-bed-kube-proxy';
/** kube-proxy's masquerade bit (iptables and nftables modes use 0x4000 too). */
export const MASQUERADE_MARK = 0x4000;

export interface NodeRulesInput {
  /** The node's InternalIP: hairpin traffic is SNATed to it. */
  nodeIP: string;
  plan: ServiceProxyPlan;
}

export function renderNodeRuleset({ nodeIP, plan }: NodeRulesInput): string {
  const mark = `0x${MASQUERADE_MARK.toString(16)}`;
  const lines: string[] = [
    `table ip ${KUBE_PROXY_TABLE}`,
    `delete table ip ${KUBE_PROXY_TABLE}`,
    `table ip ${KUBE_PROXY_TABLE} {`,
    // Traffic from pods (prerouting) and from the node's own processes (output).
    '  chain nat-prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    jump services',
    '  }',
    '  chain nat-output {',
    // nft names the dstnat priority (-100) only for prerouting.
    '    type nat hook output priority -100; policy accept;',
    '    jump services',
    '  }',
    '  chain nat-postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    meta mark & ${mark} == ${mark} snat to ${nodeIP}`,
    '  }',
    // After DNAT the destination is a pod IP, so what still goes to a ClusterIP here has no backend.
    // Every packet, not only new connections: nothing addressed to a ClusterIP may reach its route.
    '  chain filter-forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    '    jump reject-unserved',
    '  }',
    '  chain filter-output {',
    '    type filter hook output priority filter - 10; policy accept;',
    '    jump reject-unserved',
    '  }',
  ];

  const services: string[] = [];
  const rejects: string[] = [];
  const chains: string[] = [];
  for (const port of plan.ports) {
    const match = `ip daddr ${port.clusterIP} ${port.protocol.toLowerCase()} dport ${port.port}`;
    if (port.backends.length === 0) {
      rejects.push(`    ${match} ${rejectVerdict(port)}`);
      continue;
    }
    const serviceChain = chainName(`svc-${port.key}`);
    services.push(`    ${match} goto ${serviceChain}`);
    const endpointChains = port.backends.map((backend) => chainName(`ep-${port.key}__${backend.ip}/${backend.port}`));
    const choices = endpointChains.map((chain, index) => `${index} : goto ${chain}`).join(', ');
    chains.push(`  chain ${serviceChain} {`, `    numgen random mod ${endpointChains.length} vmap { ${choices} }`, '  }');
    port.backends.forEach((backend, index) => {
      chains.push(
        `  chain ${endpointChains[index]} {`,
        `    ip saddr ${backend.ip} meta mark set meta mark | ${mark}`,
        `    meta l4proto ${port.protocol.toLowerCase()} dnat to ${backend.ip}:${backend.port}`,
        '  }',
      );
    });
  }
  // As kube-proxy's cluster-ips-check: a ClusterIP port that is not a Service port is refused.
  if (plan.clusterIPs.length > 0) {
    const all = `{ ${plan.clusterIPs.join(', ')} }`;
    rejects.push(`    ip daddr ${all} meta l4proto tcp reject with tcp reset`, `    ip daddr ${all} reject`);
  }

  lines.push('  chain services {', ...services, '  }', '  chain reject-unserved {', ...rejects, '  }', ...chains, '}');
  return `${lines.join('\n')}\n`;
}

/** kube-proxy answers a connection to a port without endpoints with a TCP reset or ICMP unreachable. */
function rejectVerdict(port: ProxiedServicePort): string {
  return port.protocol === 'TCP' ? 'reject with tcp reset' : 'reject';
}

/**
 * Chain names are nft identifiers ([a-zA-Z][a-zA-Z0-9/_.-]*, as kube-proxy's own names); the
 * plan admits only DNS names, IPs and numbers into them, so anything else is a bug here.
 */
function chainName(name: string): string {
  if (!/^[a-zA-Z][a-zA-Z0-9/_.-]*$/.test(name)) throw new Error(`kube-proxy: "${name}" is not a valid nft chain name`);
  return name;
}
