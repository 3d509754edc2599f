// Decides one connection or request against a workload's policies (authz-table.ts), in the
// documented order: Admin tier by priority (first matching DENY/ALLOW decides, PASS skips the
// rest of the tier) -> namespace DENY (any match denies) -> namespace ALLOW (if any selects the
// workload, the request must match one) -> Baseline tier by priority -> allow. The same code
// runs in the proxy workers and in `weft policy explain`.
//
// A connection is first decided before its protocol is known (`http: 'pending'`): a rule with
// request conditions cannot match or fail yet, so when the decision depends on one the verdict
// is 'pending' and each request is decided once parsed. A connection that turns out not to be
// HTTP is decided with `http: 'not-http'`: request conditions then never match in an ALLOW rule
// and always match in a DENY rule (fail closed: the stream could carry what the rule denies).
import { ipv4ToUint32 } from '../proxy/ipv4-cidr-set.js';
import type { CompiledPolicy, CompiledRule, CompiledSource, WorkloadAuthz } from './authz-table.js';
import type { HttpMatch } from './policy-definition.js';
import { fullMatch } from './policy-regex.js';
import { normalizeRequestPath } from './request-path.js';

export interface HttpFacts {
  method: string;
  /** The request target as received. */
  target: string;
  /** Every value of a header (name in lower case), in order. */
  header(name: string): readonly string[];
  /** content-type application/grpc (HTTP/2). */
  grpc: boolean;
}

export type AuthzSource =
  /** A verified mesh peer: namespace and service account parsed from its SPIFFE ID (null when it is no workload ID). */
  | { kind: 'mesh'; spiffeId: string; namespace: string | null; serviceAccount: string | null }
  | { kind: 'plaintext'; ip: string };

export interface AuthzRequest {
  source: AuthzSource;
  /** The destination pod's port. */
  port: number;
  http: HttpFacts | 'pending' | 'not-http';
}

export interface AuthzVerdict {
  decision: 'allow' | 'deny' | 'pending';
  /** The deciding policy's id, or 'default'. */
  policy: string;
  /** The deciding rule's index; -1 when the policy matched as a whole (no rules, or denyAll). */
  rule: number;
  /** Why, in a few words (logs and `weft policy explain`). */
  reason: string;
}

export interface AuthzDecision extends AuthzVerdict {
  /** What dry-run policies would have decided, when that differs from the verdict or a dry-run policy decides. */
  wouldBe: AuthzVerdict | null;
  /** AUDIT policies that matched. */
  audited: string[];
}

type Tri = { match: 'yes'; rule: number } | { match: 'no' } | { match: 'unknown' };

const DEFAULT_ALLOW: AuthzVerdict = { decision: 'allow', policy: 'default', rule: -1, reason: 'no policy denies and no ALLOW policy selects the workload' };
const PENDING_REASON = 'decided per request: a rule has request conditions';

/** `trace`, when given, receives one line per policy considered. */
export function evaluateAuthz(workload: WorkloadAuthz | undefined, request: AuthzRequest, trace?: string[]): AuthzDecision {
  if (workload === undefined) return { ...DEFAULT_ALLOW, reason: 'no policy selects the workload', wouldBe: null, audited: [] };
  const verdict = evaluateOrder(workload, request, false, trace);
  let wouldBe: AuthzVerdict | null = null;
  if (workload.dryRun) {
    const withDryRun = evaluateOrder(workload, request, true, undefined);
    const decidedByDryRun = withDryRun.policy !== verdict.policy && withDryRun.policy !== 'default';
    if (withDryRun.decision !== verdict.decision || decidedByDryRun) wouldBe = withDryRun;
  }
  const audited: string[] = [];
  for (const policy of workload.audit) {
    if (matchPolicy(policy, request, false).match === 'yes') audited.push(policy.id);
  }
  return { ...verdict, wouldBe, audited };
}

function evaluateOrder(w: WorkloadAuthz, request: AuthzRequest, includeDryRun: boolean, trace: string[] | undefined): AuthzVerdict {
  const enforced = (p: CompiledPolicy): boolean => includeDryRun || !p.dryRun;
  const note = (p: CompiledPolicy, tri: Tri): void => {
    trace?.push(`${p.id}${p.dryRun ? ' (dry-run, not enforced)' : ''}: ${p.action} ${tri.match === 'yes' ? `matches${tri.rule >= 0 ? ` (rule ${tri.rule})` : ''}` : tri.match === 'no' ? 'does not match' : 'needs the request'}`);
  };

  tier: for (const p of w.admin) {
    const tri = matchPolicy(p, request, p.action !== 'ALLOW');
    note(p, tri);
    if (!enforced(p)) continue;
    if (tri.match === 'unknown') return pending(p);
    if (tri.match === 'no') continue;
    if (p.action === 'PASS' && !p.denyAll) break tier;
    return decided(p, tri.rule, p.action === 'ALLOW' && !p.denyAll ? 'allow' : 'deny');
  }
  for (const p of w.deny) {
    const tri = matchPolicy(p, request, true);
    note(p, tri);
    if (!enforced(p)) continue;
    if (tri.match === 'unknown') return pending(p);
    if (tri.match === 'yes') return decided(p, tri.rule, 'deny');
  }
  const allows = w.allow.filter(enforced);
  if (allows.length > 0) {
    let unknown: CompiledPolicy | undefined;
    for (const p of w.allow) {
      if (p.denyAll) {
        note(p, { match: 'yes', rule: -1 });
        if (enforced(p)) return decided(p, -1, 'deny');
        continue;
      }
      const tri = matchPolicy(p, request, false);
      note(p, tri);
      if (!enforced(p)) continue;
      if (tri.match === 'yes') return decided(p, tri.rule, 'allow');
      if (tri.match === 'unknown') unknown ??= p;
    }
    if (unknown !== undefined) return pending(unknown);
    return { decision: 'deny', policy: 'default', rule: -1, reason: `ALLOW policies select the workload and none matches (${allows.map((p) => p.id).join(', ')})` };
  }
  for (const p of w.baseline) {
    const tri = matchPolicy(p, request, p.action !== 'ALLOW');
    note(p, tri);
    if (!enforced(p)) continue;
    if (tri.match === 'unknown') return pending(p);
    if (tri.match === 'yes') return decided(p, tri.rule, p.action === 'ALLOW' && !p.denyAll ? 'allow' : 'deny');
  }
  return DEFAULT_ALLOW;
}

function decided(p: CompiledPolicy, rule: number, decision: 'allow' | 'deny'): AuthzVerdict {
  const why = p.denyAll ? 'the policy cannot be applied as written, so it denies everything it covers' : `${p.action} matched`;
  return { decision, policy: p.id, rule, reason: why };
}

function pending(p: CompiledPolicy): AuthzVerdict {
  return { decision: 'pending', policy: p.id, rule: -1, reason: PENDING_REASON };
}

/** `denyLike`: request conditions count as matching when they cannot be checked. */
function matchPolicy(p: CompiledPolicy, request: AuthzRequest, denyLike: boolean): Tri {
  if (p.denyAll) return { match: 'yes', rule: -1 };
  if (p.rules === null) return { match: 'yes', rule: -1 };
  let unknown = false;
  for (let i = 0; i < p.rules.length; i++) {
    const result = matchRule(p.rules[i]!, request, denyLike);
    if (result === 'yes') return { match: 'yes', rule: i };
    if (result === 'unknown') unknown = true;
  }
  return unknown ? { match: 'unknown' } : { match: 'no' };
}

function matchRule(rule: CompiledRule, request: AuthzRequest, denyLike: boolean): 'yes' | 'no' | 'unknown' {
  if (rule.broken) return 'no'; // a broken DENY/PASS rule made its policy denyAll already
  if (rule.ports !== null && !rule.ports.includes(request.port)) return 'no';
  if (rule.sources !== null && !rule.sources.some((s) => matchSource(s, request.source))) return 'no';
  if (rule.http === null && rule.grpc === null) return 'yes';
  const http = request.http;
  if (http === 'pending') return 'unknown';
  if (http === 'not-http') return denyLike ? 'yes' : 'no';
  const path = normalizeRequestPath(http.target);
  if (rule.http !== null && !matchHttp(rule.http, http, path, denyLike)) return 'no';
  if (rule.grpc !== null) {
    if (!denyLike && !http.grpc) return 'no';
    if (path === undefined) return denyLike ? 'yes' : 'no';
    const ok = rule.grpc.some((g) => (g.method === null ? path.startsWith(`/${g.service}/`) : path === `/${g.service}/${g.method}`));
    if (!ok) return 'no';
  }
  return 'yes';
}

function matchSource(source: CompiledSource, actual: AuthzSource): boolean {
  if (source.kind === 'ipBlock') return actual.kind === 'plaintext' && inIpBlock(actual.ip, source.cidr, source.except);
  if (actual.kind !== 'mesh') return false;
  switch (source.kind) {
    case 'spiffe':
      return actual.spiffeId === source.id;
    case 'serviceAccount':
      return actual.namespace === source.namespace && (source.name === '*' || actual.serviceAccount === source.name);
    case 'namespaces':
      return actual.namespace !== null && source.names.has(actual.namespace);
  }
}

function matchHttp(match: HttpMatch, http: HttpFacts, path: string | undefined, denyLike: boolean): boolean {
  if (match.methods !== null && !match.methods.includes(http.method)) return false;
  if (match.paths !== null) {
    if (path === undefined) return denyLike;
    const ok = match.paths.some((p) =>
      p.type === 'Exact' ? path === p.value
        : p.type === 'PathPrefix' ? pathHasPrefix(path, p.value)
          : fullMatch(p.value, path));
    if (!ok) return false;
  }
  for (const h of match.headers ?? []) {
    const values = http.header(h.name);
    if (values.length === 0) return false;
    // Repeated headers: a server may read any one of them, so an ALLOW needs all to match and a DENY any.
    const test = (v: string): boolean => (h.type === 'Exact' ? v === h.value : fullMatch(h.value, v));
    if (denyLike ? !values.some(test) : !values.every(test)) return false;
  }
  return true;
}

/** Gateway API PathPrefix: element-wise, so /api matches /api and /api/x but not /apix. */
function pathHasPrefix(path: string, prefix: string): boolean {
  const trimmed = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed === '/') return path.startsWith('/');
  return path === trimmed || path.startsWith(`${trimmed}/`);
}

function inIpBlock(ip: string, cidr: string, except: readonly string[]): boolean {
  const value = ipv4ToUint32(ip);
  if (value === undefined) return false;
  return inCidr(value, cidr) && !except.some((e) => inCidr(value, e));
}

function inCidr(value: number, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const baseValue = ipv4ToUint32(base!);
  if (baseValue === undefined) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((value & mask) >>> 0) === ((baseValue & mask) >>> 0);
}
