// Decides whether a container is ready, probing from the node namespace as kubelet does:
// readinessProbe.tcpSocket / httpGet when declared, otherwise every declared TCP containerPort
// must accept a connection (the bed's stand-in for "the server is up"). A container without
// ports or probe is ready once it runs.
import type { V1Container } from '@kubernetes/client-node';
import type { NodeHelper } from '../node-helper-client.js';

export interface ReadinessCheck {
  kind: 'tcp' | 'http';
  port: number;
  path?: string;
}

const PROBE_TIMEOUT_MS = 1000;

function resolvePort(container: V1Container, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port);
  const value = named?.containerPort ?? Number(port);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`container ${container.name}: probe port ${String(port)} is not a number or a named containerPort`);
  return value;
}

export function readinessChecks(container: V1Container): ReadinessCheck[] {
  const probe = container.readinessProbe;
  if (probe?.tcpSocket) return [{ kind: 'tcp', port: resolvePort(container, probe.tcpSocket.port as number | string) }];
  if (probe?.httpGet) {
    return [{ kind: 'http', port: resolvePort(container, probe.httpGet.port as number | string), path: probe.httpGet.path ?? '/' }];
  }
  return (container.ports ?? [])
    .filter((p) => (p.protocol ?? 'TCP') === 'TCP')
    .map((p) => ({ kind: 'tcp' as const, port: p.containerPort }));
}

/** True when every check passes right now. */
export async function passesReadiness(helper: NodeHelper, podIp: string, checks: ReadinessCheck[]): Promise<boolean> {
  for (const check of checks) {
    const answer = await helper.probe({ kind: check.kind, host: podIp, port: check.port, path: check.path, timeoutMs: PROBE_TIMEOUT_MS });
    if (!answer.ok) return false;
  }
  return true;
}
