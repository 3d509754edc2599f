// The Linux capabilities a container runs with, computed as containerd does from its
// securityContext: the runtime's default set, minus `drop` ("ALL" drops every one), plus `add`;
// `privileged` keeps all of them. The bed applies the result with setpriv as the very last step
// before the container's command, so a chart that asks for too few capabilities fails in the bed
// as it would on a node (the pods' processes run as root here, so the bounding set is what binds).
import type { V1SecurityContext } from '@kubernetes/client-node';

/** containerd's default capabilities for a non-privileged container. */
export const RUNTIME_DEFAULT_CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID',
  'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/** The capability names (without CAP_), or 'all' for a privileged container. */
export function containerCapabilities(securityContext: V1SecurityContext | undefined): string[] | 'all' {
  if (securityContext?.privileged) return 'all';
  const normalise = (name: string) => name.toUpperCase().replace(/^CAP_/, '');
  const drop = new Set((securityContext?.capabilities?.drop ?? []).map(normalise));
  const kept = drop.has('ALL') ? [] : RUNTIME_DEFAULT_CAPABILITIES.filter((cap) => !drop.has(cap));
  const added = (securityContext?.capabilities?.add ?? []).map(normalise);
  return [...new Set([...kept, ...added])].sort();
}

/** `command` run with only `capabilities` (setpriv narrows the bounding set, so root gets no more). */
export function withCapabilities(command: readonly string[], capabilities: string[] | 'all'): string[] {
  if (capabilities === 'all') return [...command];
  const bounding = ['-all', ...capabilities.map((cap) => `+${cap.toLowerCase()}`)].join(',');
  return ['setpriv', `--bounding-set=${bounding}`, '--inh-caps=-all', '--', ...command];
}
