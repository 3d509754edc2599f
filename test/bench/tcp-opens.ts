// TCP connections opened in one network namespace, read from the kernel's SNMP counters
// (/proc/PID/net/snmp shows the namespace of PID): ActiveOpens counts connect()s, PassiveOpens
// accepted connections. Read for a pod's process, the difference of two readings says how many
// new TCP connections a round made on that side - the proof that a "Connection: close" round
// really opened one per request, and that the proxy reused its upstream connections meanwhile.
import { readFileSync } from 'node:fs';

export interface TcpOpens {
  activeOpens: number;
  passiveOpens: number;
}

/** The Tcp: ActiveOpens and PassiveOpens of a /proc/net/snmp text (a header line, then a value line). */
export function parseTcpOpens(snmpText: string): TcpOpens {
  const lines = snmpText.split('\n').filter((line) => line.startsWith('Tcp:'));
  if (lines.length < 2) throw new Error(`no "Tcp:" header and value lines in the SNMP text: ${JSON.stringify(snmpText.slice(0, 200))}`);
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  const field = (name: string): number => {
    const index = names.indexOf(name);
    const value = index > 0 ? Number(values[index]) : NaN;
    if (!Number.isInteger(value) || value < 0) throw new Error(`the SNMP "Tcp:" lines have no counter ${name}: ${lines.slice(0, 2).join(' | ')}`);
    return value;
  };
  return { activeOpens: field('ActiveOpens'), passiveOpens: field('PassiveOpens') };
}

/** TCP opens so far in the network namespace of process `pid`. */
export function tcpOpens(pid: number): TcpOpens {
  return parseTcpOpens(readFileSync(`/proc/${pid}/net/snmp`, 'utf8'));
}
