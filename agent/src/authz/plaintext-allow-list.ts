// Which plaintext sources (no mesh identity) a pod's authorization policies allow, as prefixes
// for the kernel's longest-prefix match (bpf/include/weft_strict.h). The policies' ipBlock CIDRs
// and excepts cut the address space into regions; the evaluator decides one address of each
// region, so the kernel answers exactly what the proxy would, for every address. Fail closed:
// when a rule that can match plaintext names ports or request conditions (the kernel list has
// no port, and plaintext never reaches the HTTP parser), the answer is null and the pod takes
// no plaintext at all. Pure.
import { ipv4ToUint32 } from '../proxy/ipv4-cidr-set.js';
import type { WorkloadAuthz } from './authz-table.js';
import { evaluateAuthz } from './authz-evaluator.js';

export interface PlaintextPrefix {
  /** Network address, dotted. */
  ip4: string;
  prefixLength: number;
  allow: boolean;
}

interface Range {
  start: number;
  end: number;
  prefixLength: number;
}

/** The prefixes to write for one pod; null: no plaintext at all. [] never happens: /0 is always there. */
export function plaintextAllowList(workload: WorkloadAuthz): PlaintextPrefix[] | null {
  const ranges = new Map<string, Range>();
  const addCidr = (cidr: string): void => {
    const [base, bits] = cidr.split('/');
    const length = Number(bits);
    const value = ipv4ToUint32(base!)!;
    const size = 2 ** (32 - length);
    const start = value - (value % size);
    ranges.set(`${start}/${length}`, { start, end: start + size - 1, prefixLength: length });
  };
  addCidr('0.0.0.0/0');
  for (const policy of [...workload.admin, ...workload.deny, ...workload.allow, ...workload.baseline]) {
    if (policy.dryRun) continue;
    for (const rule of policy.rules ?? []) {
      if (rule.broken) continue;
      const plaintextCanMatch = rule.sources === null || rule.sources.some((s) => s.kind === 'ipBlock');
      if (!plaintextCanMatch) continue;
      if (rule.ports !== null || rule.http !== null || rule.grpc !== null) return null;
      for (const source of rule.sources ?? []) {
        if (source.kind !== 'ipBlock') continue;
        addCidr(source.cidr);
        for (const except of source.except) addCidr(except);
      }
    }
  }
  const all = [...ranges.values()].sort((a, b) => a.start - b.start || a.prefixLength - b.prefixLength);
  const prefixes: PlaintextPrefix[] = [];
  for (const range of all) {
    const address = uncoveredAddress(range, all);
    if (address === undefined) continue; // more specific prefixes cover it whole: never the longest match
    const decision = evaluateAuthz(workload, { source: { kind: 'plaintext', ip: toIp(address) }, port: 0, http: 'pending' });
    prefixes.push({ ip4: toIp(range.start), prefixLength: range.prefixLength, allow: decision.decision === 'allow' });
  }
  return prefixes;
}

/** The lowest address of `range` that no strictly more specific range of `all` covers. */
function uncoveredAddress(range: Range, all: readonly Range[]): number | undefined {
  let cursor = range.start;
  for (const inner of all) {
    if (inner.prefixLength <= range.prefixLength || inner.start < range.start || inner.end > range.end) continue;
    if (inner.start > cursor) return cursor;
    cursor = Math.max(cursor, inner.end + 1);
    if (cursor > range.end) return undefined;
  }
  return cursor <= range.end ? cursor : undefined;
}

function toIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}
