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
import type { HttpMatch, PathMatch } from './policy-definition.js';
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

const NO: Tri = Object.freeze({ match: 'no' });
const UNKNOWN: Tri = Object.freeze({ match: 'unknown' });

/** Per request, what several rules would otherwise each work out again: the normal path. */
interface RequestMemo {
  pathDone: boolean;
  path: string | undefined;
}

function normalPath(memo: RequestMemo, http: HttpFacts): string | undefined {
  if (!memo.pathDone) {
    memo.path = normalizeRequestPath(http.target);
    memo.pathDone = true;
  }
  return memo.path;
}

const DEFAULT_ALLOW: AuthzVerdict = { decision: 'allow', policy: 'default', rule: -1, reason: 'no policy denies and no ALLOW policy selects the workload' };
const NOTHING_AUDITED: string[] = [];
const NO_POLICY: AuthzDecision = Object.freeze({ decision: 'allow', policy: 'default', rule: -1, reason: 'no policy selects the workload', wouldBe: null, audited: NOTHING_AUDITED });
const PENDING_REASON = 'decided per request: a rule has request conditions';

/**
 * A workload's policies narrowed to those whose sources can match one caller, in the same
 * order: the others cannot match it, so skipping them changes no decision. Built once per
 * (table entry, caller) and kept while the entry is current, so a request walks the few policies
 * that concern its caller instead of every policy of the workload.
 */
interface CallerView extends WorkloadAuthz {
  /** Enforced ALLOW policies of the whole workload (the ALLOW step applies when there are any). */
  enforcedAllowCount: number;
  allowCount: number;
}

const MAX_CALLERS_PER_WORKLOAD = 20_000;
const callerViews = new WeakMap<WorkloadAuthz, Map<string, CallerView>>();

function callerView(w: WorkloadAuthz, source: AuthzSource): CallerView {
  let views = callerViews.get(w);
  if (views === undefined) callerViews.set(w, (views = new Map()));
  const key = source.kind === 'mesh' ? source.spiffeId : `ip:${source.ip}`;
  let view = views.get(key);
  if (view === undefined) {
    if (views.size >= MAX_CALLERS_PER_WORKLOAD) views.clear();
    const narrow = (policies: readonly CompiledPolicy[]): CompiledPolicy[] => {
      const out: CompiledPolicy[] = [];
      for (const p of policies) {
        const seen = asSeenBy(p, source);
        if (seen !== undefined) out.push(seen);
      }
      return out;
    };
    // Built field by field, not spread from `w`: a spread copy with overridden fields gets a
    // shape of its own, and the evaluator's reads of it were measured twice as slow.
    view = {
      namespace: w.namespace,
      workload: w.workload,
      dryRun: w.dryRun,
      admin: narrow(w.admin),
      deny: narrow(w.deny),
      allow: narrow(w.allow),
      baseline: narrow(w.baseline),
      audit: narrow(w.audit),
      enforcedAllowCount: w.allow.filter((p) => !p.dryRun).length,
      allowCount: w.allow.length,
    };
    views.set(key, view);
  }
  return view;
}

/** Narrowed policies, shared by the callers that keep the same rules of a policy. */
const narrowedPolicies = new WeakMap<CompiledPolicy, Map<string, CompiledPolicy>>();

/**
 * The policy as one caller sees it: only the rules whose sources match the caller, with their
 * source conditions dropped (already checked), and `ruleIndex` mapping them back to the rules
 * as written; undefined when no rule can match the caller.
 */
function asSeenBy(p: CompiledPolicy, source: AuthzSource): CompiledPolicy | undefined {
  if (p.denyAll || p.rules === null) return p;
  const kept: number[] = [];
  let sourceConditions = false;
  for (let i = 0; i < p.rules.length; i++) {
    const rule = p.rules[i]!;
    if (rule.broken) continue; // a broken rule matches nothing (a broken DENY/PASS rule made the policy denyAll)
    if (rule.sources !== null) sourceConditions = true;
    if (rule.sources === null || anySourceMatches(rule.sources, source)) kept.push(i);
  }
  if (kept.length === 0) return undefined;
  if (!sourceConditions && kept.length === p.rules.length) return p;
  let byRules = narrowedPolicies.get(p);
  if (byRules === undefined) narrowedPolicies.set(p, (byRules = new Map()));
  const key = kept.join(',');
  let narrowed = byRules.get(key);
  if (narrowed === undefined) {
    const rules = p.rules;
    narrowed = {
      id: p.id, kind: p.kind, namespace: p.namespace, name: p.name, action: p.action, dryRun: p.dryRun,
      tier: p.tier, priority: p.priority, broken: p.broken, denyAll: p.denyAll,
      rules: kept.map((i) => ({ sources: null, ports: rules[i]!.ports, http: rules[i]!.http, grpc: rules[i]!.grpc, broken: false })),
      ruleIndex: kept.map((i) => (p.ruleIndex === null ? i : p.ruleIndex[i]!)),
    };
    byRules.set(key, narrowed);
  }
  return narrowed;
}

/** `trace`, when given, receives one line per policy considered (every policy of the workload). */
export function evaluateAuthz(workload: WorkloadAuthz | undefined, request: AuthzRequest, trace?: string[]): AuthzDecision {
  if (workload === undefined) return NO_POLICY;
  if (trace === undefined) workload = callerView(workload, request.source);
  const memo: RequestMemo = { pathDone: false, path: undefined };
  const verdict = evaluateOrder(workload, request, false, trace, memo);
  let wouldBe: AuthzVerdict | null = null;
  if (workload.dryRun) {
    const withDryRun = evaluateOrder(workload, request, true, undefined, memo);
    const decidedByDryRun = withDryRun.policy !== verdict.policy && withDryRun.policy !== 'default';
    if (withDryRun.decision !== verdict.decision || decidedByDryRun) wouldBe = withDryRun;
  }
  let audited = NOTHING_AUDITED;
  for (const policy of workload.audit) {
    if (matchPolicy(policy, request, false, memo).match !== 'yes') continue;
    if (audited === NOTHING_AUDITED) audited = [];
    audited.push(policy.id);
  }
  return { decision: verdict.decision, policy: verdict.policy, rule: verdict.rule, reason: verdict.reason, wouldBe, audited };
}

function evaluateOrder(w: WorkloadAuthz, request: AuthzRequest, includeDryRun: boolean, trace: string[] | undefined, memo: RequestMemo): AuthzVerdict {
  const enforced = includeDryRun ? always : notDryRun;
  // No closure over `trace`: evaluation runs per request and must not allocate for tracing.
  const note = trace === undefined ? ignore : traceLine.bind(null, trace);

  tier: for (const p of w.admin) {
    const tri = matchPolicy(p, request, p.action !== 'ALLOW', memo);
    note(p, tri);
    if (!enforced(p)) continue;
    if (tri.match === 'unknown') return pending(p);
    if (tri.match === 'no') continue;
    if (p.action === 'PASS' && !p.denyAll) break tier;
    return decided(p, tri.rule, p.action === 'ALLOW' && !p.denyAll ? 'allow' : 'deny');
  }
  for (const p of w.deny) {
    const tri = matchPolicy(p, request, true, memo);
    note(p, tri);
    if (!enforced(p)) continue;
    if (tri.match === 'unknown') return pending(p);
    if (tri.match === 'yes') return decided(p, tri.rule, 'deny');
  }
  const counts = w as Partial<CallerView>;
  let enforcedAllows = includeDryRun ? counts.allowCount : counts.enforcedAllowCount;
  if (enforcedAllows === undefined) {
    enforcedAllows = 0;
    for (const p of w.allow) if (enforced(p)) enforcedAllows++;
  }
  if (enforcedAllows > 0) {
    let unknown: CompiledPolicy | undefined;
    for (const p of w.allow) {
      if (p.denyAll) {
        note(p, { match: 'yes', rule: -1 });
        if (enforced(p)) return decided(p, -1, 'deny');
        continue;
      }
      const tri = matchPolicy(p, request, false, memo);
      note(p, tri);
      if (!enforced(p)) continue;
      if (tri.match === 'yes') return decided(p, tri.rule, 'allow');
      if (tri.match === 'unknown') unknown ??= p;
    }
    if (unknown !== undefined) return pending(unknown);
    return { decision: 'deny', policy: 'default', rule: -1, reason: `${enforcedAllows} ALLOW ${enforcedAllows === 1 ? 'policy selects' : 'policies select'} the workload and none matches` };
  }
  for (const p of w.baseline) {
    const tri = matchPolicy(p, request, p.action !== 'ALLOW', memo);
    note(p, tri);
    if (!enforced(p)) continue;
    if (tri.match === 'unknown') return pending(p);
    if (tri.match === 'yes') return decided(p, tri.rule, p.action === 'ALLOW' && !p.denyAll ? 'allow' : 'deny');
  }
  return DEFAULT_ALLOW;
}

function always(): boolean {
  return true;
}

function notDryRun(p: CompiledPolicy): boolean {
  return !p.dryRun;
}

function ignore(): void {}

function traceLine(trace: string[], p: CompiledPolicy, tri: Tri): void {
  trace.push(`${p.id}${p.dryRun ? ' (dry-run, not enforced)' : ''}: ${p.action} ${tri.match === 'yes' ? `matches${tri.rule >= 0 ? ` (rule ${tri.rule})` : ''}` : tri.match === 'no' ? 'does not match' : 'needs the request'}`);
}

function decided(p: CompiledPolicy, rule: number, decision: 'allow' | 'deny'): AuthzVerdict {
  const why = p.denyAll ? 'the policy cannot be applied as written, so it denies everything it covers' : `${p.action} matched`;
  return { decision, policy: p.id, rule, reason: why };
}

function pending(p: CompiledPolicy): AuthzVerdict {
  return { decision: 'pending', policy: p.id, rule: -1, reason: PENDING_REASON };
}

/** `denyLike`: request conditions count as matching when they cannot be checked. */
function matchPolicy(p: CompiledPolicy, request: AuthzRequest, denyLike: boolean, memo: RequestMemo): Tri {
  if (p.denyAll) return { match: 'yes', rule: -1 };
  if (p.rules === null) return { match: 'yes', rule: -1 };
  let unknown = false;
  for (let i = 0; i < p.rules.length; i++) {
    const result = matchRule(p.rules[i]!, request, denyLike, memo);
    if (result === 'yes') return { match: 'yes', rule: p.ruleIndex === null ? i : p.ruleIndex[i]! };
    if (result === 'unknown') unknown = true;
  }
  return unknown ? UNKNOWN : NO;
}

function matchRule(rule: CompiledRule, request: AuthzRequest, denyLike: boolean, memo: RequestMemo): 'yes' | 'no' | 'unknown' {
  if (rule.broken) return 'no'; // a broken DENY/PASS rule made its policy denyAll already
  if (rule.ports !== null && !rule.ports.includes(request.port)) return 'no';
  if (rule.sources !== null && !anySourceMatches(rule.sources, request.source)) return 'no';
  if (rule.http === null && rule.grpc === null) return 'yes';
  const http = request.http;
  if (http === 'pending') return 'unknown';
  if (http === 'not-http') return denyLike ? 'yes' : 'no';
  const path = normalPath(memo, http);
  if (rule.http !== null && !matchHttp(rule.http, http, path, denyLike)) return 'no';
  if (rule.grpc !== null) {
    if (!denyLike && !http.grpc) return 'no';
    if (path === undefined) return denyLike ? 'yes' : 'no';
    const ok = rule.grpc.some((g) => (g.method === null ? path.startsWith(`/${g.service}/`) : path === `/${g.service}/${g.method}`));
    if (!ok) return 'no';
  }
  return 'yes';
}

function anySourceMatches(sources: readonly CompiledSource[], actual: AuthzSource): boolean {
  for (let i = 0; i < sources.length; i++) if (matchSource(sources[i]!, actual)) return true;
  return false;
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

/** Cheapest conditions first (method, header, literal paths), the regular expressions last: all must hold, so the order changes no result. */
function matchHttp(match: HttpMatch, http: HttpFacts, path: string | undefined, denyLike: boolean): boolean {
  if (match.methods !== null && !match.methods.includes(http.method)) return false;
  if (match.headers !== null) {
    for (const h of match.headers) {
      const values = http.header(h.name);
      if (values.length === 0) return false;
      // Repeated headers: a server may read any one of them, so an ALLOW needs all to match and a DENY any.
      let matching = 0;
      for (const v of values) if (h.type === 'Exact' ? v === h.value : fullMatch(h.value, v)) matching++;
      if (denyLike ? matching === 0 : matching !== values.length) return false;
    }
  }
  if (match.paths !== null) {
    if (path === undefined) return denyLike;
    if (!pathMatcher(match.paths)(path)) return false;
  }
  return true;
}

type PathTest = (path: string) => boolean;

const pathMatchers = new WeakMap<readonly PathMatch[], PathTest>();

/**
 * A rule's path conditions (OR), compiled once per rule: Exact and PathPrefix as string
 * comparisons (PathPrefix element-wise, as Gateway API: the prefix followed by nothing or a
 * `/`), RegularExpression as one anchored expression (checked as RE2 syntax on admission),
 * tried only when no literal matched.
 */
function pathMatcher(paths: readonly PathMatch[]): PathTest {
  let test = pathMatchers.get(paths);
  if (test === undefined) {
    const exact = new Set<string>();
    const prefixes: string[] = [];
    const expressions: string[] = [];
    for (const p of paths) {
      if (p.type === 'Exact') exact.add(p.value);
      else if (p.type === 'PathPrefix') prefixes.push(p.value.length > 1 && p.value.endsWith('/') ? p.value.slice(0, -1) : p.value);
      else expressions.push(`(?:${p.value})`);
    }
    const re = expressions.length === 0 ? null : new RegExp(`^(?:${expressions.join('|')})$`, 'su');
    test = (path) => {
      if (exact.has(path)) return true;
      for (const prefix of prefixes) if (prefix === '/' || hasPathPrefix(path, prefix)) return true;
      return re !== null && re.test(path);
    };
    pathMatchers.set(paths, test);
  }
  return test;
}

function hasPathPrefix(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */);
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
