// Istio `security.istio.io` AuthorizationPolicies to Weft's, for teams moving over. Pure: objects
// in, objects and a list of what could not be converted out. Nothing is silently dropped: every
// field Weft cannot express is listed with where it was, and a rule that cannot be converted is
// left out of the result (for ALLOW that allows less, which is safe; for DENY it denies less, so
// a DENY policy with such a rule is listed as needing a decision, and `weft convert` exits 1).
//
// Istio's rule = from (OR of sources, each an AND of fields) AND to (OR of operations) AND when
// (AND); Weft's rule = sources (OR) AND ports AND http (AND). A source with several fields (an
// AND) has no Weft form unless it has one field; each (source, operation) pair becomes one rule.

import { escapeRegExp } from './policy-regex.js';

type Obj = Record<string, any>;

export interface ConversionProblem {
  /** `<namespace>/<name>`, and where in the policy. */
  policy: string;
  field: string;
  message: string;
}

export interface ConversionResult {
  policies: Obj[];
  problems: ConversionProblem[];
}

export interface ConversionOptions {
  /** Istio's root namespace: its policies apply mesh-wide. */
  rootNamespace: string;
  trustDomain: string;
}

export function convertIstioPolicies(objects: readonly Obj[], options: ConversionOptions): ConversionResult {
  const result: ConversionResult = { policies: [], problems: [] };
  for (const object of objects) {
    if (object?.kind !== 'AuthorizationPolicy' || !String(object.apiVersion ?? '').startsWith('security.istio.io/')) continue;
    convertOne(object, options, result);
  }
  return result;
}

function convertOne(object: Obj, options: ConversionOptions, result: ConversionResult): void {
  const name: string = object.metadata?.name ?? '';
  const namespace: string = object.metadata?.namespace ?? 'default';
  const id = `${namespace}/${name}`;
  const spec: Obj = object.spec ?? {};
  const problem = (field: string, message: string): void => {
    result.problems.push({ policy: id, field, message });
  };
  const action: string = spec.action ?? 'ALLOW';
  if (action === 'CUSTOM') {
    problem('spec.action', 'CUSTOM (external authorization) has no Weft equivalent; policy not converted');
    return;
  }
  if (!['ALLOW', 'DENY', 'AUDIT'].includes(action)) {
    problem('spec.action', `unknown action ${JSON.stringify(action)}; policy not converted`);
    return;
  }
  const meshWide = namespace === options.rootNamespace;
  if (meshWide && action !== 'DENY') {
    problem('metadata.namespace', `a mesh-wide ${action} policy (root namespace ${options.rootNamespace}): Weft's tiers order it differently from Istio (a DENY anywhere beats an ALLOW there); write a ClusterAuthorizationPolicy by hand`);
    return;
  }

  const rules: Obj[] = [];
  let lostRules = 0;
  const istioRules: Obj[] | undefined = spec.rules;
  (istioRules ?? []).forEach((rule, r) => {
    const converted = convertRule(rule ?? {}, `spec.rules[${r}]`, options, problem);
    if (converted === undefined) lostRules++;
    else rules.push(...converted);
  });
  if (action === 'DENY' && lostRules > 0) {
    problem('spec.rules', `${lostRules} DENY rule(s) could not be converted: the converted policy denies less than the Istio one`);
  }

  const weftSpec: Obj = { action };
  if (istioRules !== undefined) weftSpec.rules = rules;
  if (rules.some((r) => r.http !== undefined)) weftSpec.enforcementLevel = 'Application';
  const annotations = { 'weft.io/converted-from': `security.istio.io AuthorizationPolicy ${id}` };

  if (meshWide) {
    const subject: Obj = { namespaceSelector: {} };
    if (spec.selector?.matchLabels) subject.podSelector = { matchLabels: spec.selector.matchLabels };
    result.policies.push({
      apiVersion: 'weft.io/v1alpha1',
      kind: 'ClusterAuthorizationPolicy',
      metadata: { name: `${namespace}-${name}`, annotations },
      spec: { tier: 'Admin', priority: 100, ...weftSpec, subject },
    });
    return;
  }
  const targetRefs: Obj[] = [];
  if (spec.selector?.matchLabels) targetRefs.push({ group: '', kind: 'Pod', selector: { matchLabels: spec.selector.matchLabels } });
  (spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : [])).forEach((ref: Obj, i: number) => {
    if ((ref.group ?? '') === '' && ref.kind === 'Service') targetRefs.push({ group: '', kind: 'Service', name: ref.name });
    else problem(`spec.targetRefs[${i}]`, `a ${ref.group ?? ''}/${ref.kind} target (gateways, waypoints) has no Weft equivalent; not converted`);
  });
  result.policies.push({
    apiVersion: 'weft.io/v1alpha1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, annotations },
    spec: { ...(targetRefs.length > 0 ? { targetRefs } : {}), ...weftSpec },
  });
}

/** Weft rules for one Istio rule, or undefined when some part of it has no Weft form. */
function convertRule(rule: Obj, at: string, options: ConversionOptions, problem: (field: string, message: string) => void): Obj[] | undefined {
  let ok = true;
  const fail = (field: string, message: string): void => {
    problem(field, message);
    ok = false;
  };
  // from: each source -> the Weft sources it stands for (OR), or undefined (any source).
  const froms: (Obj[] | undefined)[] = [];
  (rule.from ?? []).forEach((from: Obj, i: number) => {
    const source: Obj = from?.source ?? {};
    const fields = Object.keys(source);
    if (fields.length !== 1) {
      fail(`${at}.from[${i}].source`, fields.length === 0 ? 'an empty source' : `several fields at once (${fields.join(', ')}, an AND): Weft sources have one kind each`);
      return;
    }
    const field = fields[0]!;
    const values: string[] = source[field] ?? [];
    switch (field) {
      case 'principals': {
        const sources: Obj[] = [];
        for (const principal of values) {
          const converted = principalSource(principal, options.trustDomain);
          if (converted === undefined) fail(`${at}.from[${i}].source.principals`, `"${principal}": only exact workload principals, <trust domain>/ns/<ns>/sa/* and * convert`);
          else sources.push(converted);
        }
        froms.push(sources);
        break;
      }
      case 'namespaces':
        if (values.some((v) => v.includes('*'))) {
          if (values.includes('*')) froms.push([{ namespaceSelector: {} }]);
          else fail(`${at}.from[${i}].source.namespaces`, 'wildcard namespaces other than * do not convert');
        } else {
          froms.push(values.map((ns) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } })));
        }
        break;
      case 'ipBlocks':
        froms.push(values.map((cidr) => ({ ipBlock: { cidr: cidr.includes('/') ? cidr : `${cidr}/32` } })));
        break;
      default:
        fail(`${at}.from[${i}].source.${field}`, field.startsWith('not') ? 'negated sources have no Weft form' : field.includes('requestPrincipals') ? 'JWT request principals have no Weft form (identity is the mTLS certificate)' : field.includes('remoteIpBlocks') ? 'remoteIpBlocks (X-Forwarded-For) have no Weft form' : `unknown source field ${field}`);
    }
  });
  // to: each operation -> ports and http of one Weft rule.
  const tos: Obj[] = [];
  (rule.to ?? []).forEach((to: Obj, i: number) => {
    const operation: Obj = to?.operation ?? {};
    const out: Obj = {};
    for (const [field, values] of Object.entries(operation) as [string, string[]][]) {
      const where = `${at}.to[${i}].operation.${field}`;
      if (field === 'ports') {
        const ports = values.map(Number);
        if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) fail(where, 'ports must be numbers');
        else out.ports = ports;
      } else if (field === 'methods') {
        out.http = { ...(out.http ?? {}), methods: values };
      } else if (field === 'paths') {
        const paths = values.map(pathMatch);
        if (paths.includes(null)) out.http = { ...(out.http ?? {}) };
        else out.http = { ...(out.http ?? {}), paths };
      } else {
        fail(where, field.startsWith('not') ? 'negated operations have no Weft form' : field === 'hosts' ? 'host matching has no Weft form (policies attach to workloads)' : `unknown operation field ${field}`);
      }
    }
    tos.push(out);
  });
  // when: the conditions Weft can express become headers, sources or ports of every rule.
  const extra: Obj = {};
  (rule.when ?? []).forEach((when: Obj, i: number) => {
    const key: string = when?.key ?? '';
    const values: string[] = when?.values ?? [];
    const where = `${at}.when[${i}]`;
    if (when?.notValues !== undefined) fail(`${where}.notValues`, 'negated conditions have no Weft form');
    const header = /^request\.headers\[(.+)\]$/.exec(key);
    if (header && values.length === 1) extra.headers = [...(extra.headers ?? []), { name: header[1]!.toLowerCase(), type: 'Exact', value: values[0] }];
    else if (header) extra.headers = [...(extra.headers ?? []), { name: header[1]!.toLowerCase(), type: 'RegularExpression', value: values.map(escapeRegExp).join('|') }];
    else if (key === 'destination.port') extra.ports = values.map(Number);
    else fail(`${where}.key`, `condition ${JSON.stringify(key)} has no Weft form`);
  });
  if (!ok) return undefined;
  const sourceSets = froms.length === 0 ? [undefined] : [froms.flatMap((f) => f ?? [])];
  const operations = tos.length === 0 ? [{}] : tos;
  const rules: Obj[] = [];
  for (const sources of sourceSets) {
    for (const operation of operations) {
      const weftRule: Obj = {};
      if (sources !== undefined) weftRule.sources = sources;
      const ports = operation.ports ?? extra.ports;
      if (ports !== undefined) weftRule.ports = ports;
      const http = { ...(operation.http ?? {}), ...(extra.headers ? { headers: extra.headers } : {}) };
      if (Object.keys(http).length > 0) weftRule.http = http;
      rules.push(weftRule);
    }
  }
  return rules;
}

/** Istio principal (without spiffe://) to a Weft source. */
function principalSource(principal: string, trustDomain: string): Obj | undefined {
  if (principal === '*') return { namespaceSelector: {} };
  const match = /^([^/*]+)\/ns\/([a-z0-9-]+)\/sa\/([a-z0-9.*-]+)$/.exec(principal);
  if (match === null || (match[1] !== trustDomain && match[1] !== 'cluster.local')) return undefined;
  if (match[3] === '*') return { serviceAccount: { namespace: match[2], name: '*' } };
  if (match[3]!.includes('*')) return undefined;
  return { spiffe: `spiffe://${match[1]}/ns/${match[2]}/sa/${match[3]}` };
}

/** Istio paths: exact, prefix `/x/*`, suffix `*.y`, presence `*`; null = any path. */
function pathMatch(path: string): Obj | null {
  if (path === '*') return null;
  if (path.endsWith('/*')) return { type: 'PathPrefix', value: path.slice(0, -2) || '/' };
  if (path.endsWith('*')) return { type: 'RegularExpression', value: `${escapeRegExp(path.slice(0, -1))}.*` };
  if (path.startsWith('*')) return { type: 'RegularExpression', value: `.*${escapeRegExp(path.slice(1))}` };
  return { type: 'Exact', value: path };
}

