// Turns an AuthorizationPolicy or ClusterAuthorizationPolicy object, as the API server stored
// it, into a PolicyDefinition. The CRD schema refuses most bad input at the API server; what it
// cannot express (regular expressions, CIDRs, selector operators, combinations) is checked here.
// Fail closed: a rule that cannot be applied is kept as `broken` (an ALLOW rule then allows
// nothing; a DENY or PASS policy denies every request to its targets); a policy whose action or
// targets cannot be read is `broken` as a whole and denies every request to the workloads of its
// namespace (cluster policies: to every workload its subject may cover). Every problem names its field.
import { isIP } from 'node:net';
import { labelSelectorProblem, type LabelSelector } from '../k8s/label-selector.js';
import {
  DRY_RUN_ANNOTATION,
  type ClusterTier,
  type GrpcMatch,
  type HeaderMatch,
  type HttpMatch,
  type PathMatch,
  type PolicyAction,
  type PolicyDefinition,
  type PolicyKind,
  type PolicyProblem,
  type RuleDefinition,
  type SourceDefinition,
  type TargetDefinition,
} from './policy-definition.js';
import { regularExpressionProblem } from './policy-regex.js';

type Obj = Record<string, unknown>;

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Problems {
  readonly list: PolicyProblem[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

const validated = new WeakMap<object, PolicyDefinition>();

/** validatePolicy, once per stored object (informers replace an object when it changes). */
export function validatePolicyOnce(kind: PolicyKind, object: object): PolicyDefinition {
  let definition = validated.get(object);
  if (definition === undefined) {
    definition = validatePolicy(kind, object);
    validated.set(object, definition);
  }
  return definition;
}

export function validatePolicy(kind: PolicyKind, object: unknown): PolicyDefinition {
  const problems = new Problems();
  const meta = isObj(object) && isObj(object.metadata) ? object.metadata : {};
  const spec = isObj(object) && isObj(object.spec) ? object.spec : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = kind === 'AuthorizationPolicy' && typeof meta.namespace === 'string' ? meta.namespace : '';
  const annotations = isObj(meta.annotations) ? meta.annotations : {};
  const cluster = kind === 'ClusterAuthorizationPolicy';
  let broken = false;

  const allowedActions: PolicyAction[] = cluster ? ['ALLOW', 'DENY', 'PASS', 'AUDIT'] : ['ALLOW', 'DENY', 'AUDIT'];
  let action = spec.action as PolicyAction;
  if (!allowedActions.includes(action)) {
    problems.add('spec.action', `unsupported value ${JSON.stringify(spec.action)}: one of ${allowedActions.join(', ')}`);
    action = 'DENY';
    broken = true;
  }

  let tier: ClusterTier | null = null;
  let priority = 0;
  let subject: PolicyDefinition['subject'] = null;
  let targets: TargetDefinition[] | null = null;
  if (cluster) {
    tier = spec.tier === 'Admin' || spec.tier === 'Baseline' ? spec.tier : null;
    if (tier === null) {
      problems.add('spec.tier', `unsupported value ${JSON.stringify(spec.tier)}: Admin or Baseline`);
      tier = 'Admin';
      broken = true;
    }
    if (action === 'PASS' && tier === 'Baseline') {
      problems.add('spec.action', 'PASS is only valid in the Admin tier');
      action = 'DENY';
      broken = true;
    }
    if (spec.priority !== undefined && (!Number.isInteger(spec.priority) || (spec.priority as number) < 0 || (spec.priority as number) > 1000)) {
      problems.add('spec.priority', 'must be an integer from 0 to 1000');
      broken = true;
    } else {
      priority = (spec.priority as number | undefined) ?? 0;
    }
    const rawSubject = isObj(spec.subject) ? spec.subject : undefined;
    const namespaceSelector = selectorAt(rawSubject?.namespaceSelector, 'spec.subject.namespaceSelector', problems);
    const podSelector = rawSubject?.podSelector === undefined ? null : selectorAt(rawSubject.podSelector, 'spec.subject.podSelector', problems);
    if (rawSubject === undefined || namespaceSelector === undefined || podSelector === undefined) {
      if (rawSubject === undefined) problems.add('spec.subject', 'required: which destinations the policy covers (namespaceSelector, optional podSelector)');
      broken = true;
      subject = { namespaceSelector: {}, podSelector: null };
    } else {
      subject = { namespaceSelector, podSelector };
    }
  } else if (spec.targetRefs !== undefined) {
    const parsed = parseTargets(spec.targetRefs, problems);
    if (parsed === undefined) broken = true;
    else targets = parsed;
  }

  const rules = parseRules(spec, action, problems);
  return {
    id: `${kind}/${namespace}/${name}`,
    kind,
    namespace,
    name,
    action,
    dryRun: annotations[DRY_RUN_ANNOTATION] === 'true',
    targets,
    tier,
    priority,
    subject,
    rules,
    broken,
    problems: problems.list,
  };
}

function selectorAt(value: unknown, field: string, problems: Problems): LabelSelector | undefined {
  if (!isObj(value)) {
    problems.add(field, 'must be a label selector (matchLabels, matchExpressions)');
    return undefined;
  }
  const selector = value as LabelSelector;
  const problem = labelSelectorProblem(selector);
  if (problem !== undefined) {
    problems.add(`${field}.${problem.split(':')[0]}`, problem.slice(problem.indexOf(':') + 2));
    return undefined;
  }
  return selector;
}

/** The targets, or undefined when one cannot be read (the policy is then broken as a whole). */
function parseTargets(value: unknown, problems: Problems): TargetDefinition[] | undefined {
  if (!Array.isArray(value)) {
    problems.add('spec.targetRefs', 'must be a list');
    return undefined;
  }
  const targets: TargetDefinition[] = [];
  let ok = true;
  value.forEach((ref, i) => {
    const field = `spec.targetRefs[${i}]`;
    if (!isObj(ref) || (ref.group ?? '') !== '') {
      problems.add(`${field}.group`, 'only the core group ("") is supported');
      ok = false;
      return;
    }
    if (ref.kind === 'Service' && typeof ref.name === 'string' && ref.name !== '') {
      targets.push({ kind: 'Service', name: ref.name });
    } else if (ref.kind === 'Pod' && ref.selector !== undefined) {
      const selector = selectorAt(ref.selector, `${field}.selector`, problems);
      if (selector === undefined) ok = false;
      else targets.push({ kind: 'Pod', selector });
    } else {
      problems.add(`${field}.kind`, 'must be Service (with name) or Pod (with selector)');
      ok = false;
    }
  });
  return ok ? targets : undefined;
}

function parseRules(spec: Obj, action: PolicyAction, problems: Problems): RuleDefinition[] | null {
  if (spec.rules === undefined || spec.rules === null) return null;
  if (!Array.isArray(spec.rules)) {
    problems.add('spec.rules', 'must be a list');
    return [brokenRule()];
  }
  const level = spec.enforcementLevel;
  if (level !== undefined && level !== 'Network' && level !== 'Application') {
    problems.add('spec.enforcementLevel', `unsupported value ${JSON.stringify(level)}: Network or Application`);
  }
  return spec.rules.map((raw, i) => parseRule(raw, `spec.rules[${i}]`, level === 'Network', action, problems));
}

function brokenRule(): RuleDefinition {
  return { sources: null, ports: null, http: null, grpc: null, broken: true };
}

function parseRule(raw: unknown, field: string, networkOnly: boolean, action: PolicyAction, problems: Problems): RuleDefinition {
  if (!isObj(raw)) {
    problems.add(field, 'must be an object');
    return brokenRule();
  }
  const before = problems.list.length;
  const sources = raw.sources === undefined ? null : parseSources(raw.sources, `${field}.sources`, problems);
  let ports: number[] | null = null;
  if (raw.ports !== undefined) {
    if (!Array.isArray(raw.ports) || raw.ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      problems.add(`${field}.ports`, 'must be a list of port numbers from 1 to 65535');
    } else {
      ports = raw.ports as number[];
    }
  }
  const http = raw.http === undefined ? null : parseHttp(raw.http, `${field}.http`, problems);
  const grpc = raw.grpc === undefined ? null : parseGrpc(raw.grpc, `${field}.grpc`, problems);
  if (networkOnly && (raw.http !== undefined || raw.grpc !== undefined)) {
    problems.add(raw.http !== undefined ? `${field}.http` : `${field}.grpc`, 'request conditions need spec.enforcementLevel: Application (Network enforces connections only)');
  }
  if (action === 'PASS' && (raw.http !== undefined || raw.grpc !== undefined)) {
    problems.add(`${field}.http`, 'a PASS rule decides per connection: it cannot have request conditions');
  }
  return { sources, ports, http, grpc, broken: problems.list.length > before };
}

function parseSources(value: unknown, field: string, problems: Problems): SourceDefinition[] {
  if (!Array.isArray(value)) {
    problems.add(field, 'must be a list');
    return [];
  }
  const sources: SourceDefinition[] = [];
  value.forEach((raw, i) => {
    const at = `${field}[${i}]`;
    const keys = isObj(raw) ? Object.keys(raw).filter((k) => raw[k] !== undefined) : [];
    if (!isObj(raw) || keys.length !== 1) {
      problems.add(at, 'must set exactly one of serviceAccount, spiffe, namespaceSelector, ipBlock');
      return;
    }
    if (isObj(raw.serviceAccount)) {
      const { namespace, name } = raw.serviceAccount;
      if (typeof namespace !== 'string' || namespace === '' || typeof name !== 'string' || name === '') {
        problems.add(`${at}.serviceAccount`, 'needs namespace and name ("*" for any service account of the namespace)');
        return;
      }
      sources.push({ kind: 'serviceAccount', namespace, name });
    } else if (typeof raw.spiffe === 'string') {
      if (!/^spiffe:\/\/[^/\s]+\/\S*$/.test(raw.spiffe)) {
        problems.add(`${at}.spiffe`, `not a SPIFFE ID: ${JSON.stringify(raw.spiffe)}`);
        return;
      }
      sources.push({ kind: 'spiffe', id: raw.spiffe });
    } else if (raw.namespaceSelector !== undefined) {
      const selector = selectorAt(raw.namespaceSelector, `${at}.namespaceSelector`, problems);
      if (selector !== undefined) sources.push({ kind: 'namespaceSelector', selector });
    } else if (isObj(raw.ipBlock)) {
      const cidr = raw.ipBlock.cidr;
      const except = raw.ipBlock.except ?? [];
      if (typeof cidr !== 'string' || !isIpv4Cidr(cidr)) {
        problems.add(`${at}.ipBlock.cidr`, `not an IPv4 CIDR: ${JSON.stringify(cidr)}`);
        return;
      }
      if (!Array.isArray(except) || except.some((e) => typeof e !== 'string' || !isIpv4Cidr(e))) {
        problems.add(`${at}.ipBlock.except`, 'must be a list of IPv4 CIDRs');
        return;
      }
      sources.push({ kind: 'ipBlock', cidr, except: except as string[] });
    } else {
      problems.add(at, `unknown source ${JSON.stringify(keys[0])}: one of serviceAccount, spiffe, namespaceSelector, ipBlock`);
    }
  });
  return sources;
}

function isIpv4Cidr(value: string): boolean {
  const [ip, bits, extra] = value.split('/');
  if (extra !== undefined || ip === undefined || bits === undefined || isIP(ip) !== 4 || !/^\d{1,2}$/.test(bits)) return false;
  return Number(bits) <= 32;
}

function parseHttp(value: unknown, field: string, problems: Problems): HttpMatch | null {
  if (!isObj(value)) {
    problems.add(field, 'must be an object');
    return null;
  }
  const match: HttpMatch = { methods: null, paths: null, headers: null };
  if (value.methods !== undefined) {
    if (!Array.isArray(value.methods) || value.methods.some((m) => typeof m !== 'string' || !HTTP_TOKEN.test(m))) {
      problems.add(`${field}.methods`, 'must be a list of HTTP methods (tokens such as GET, POST)');
    } else {
      match.methods = value.methods as string[];
    }
  }
  if (value.paths !== undefined) {
    match.paths = [];
    (Array.isArray(value.paths) ? value.paths : [null]).forEach((raw, i) => {
      const path = parsePath(raw, `${field}.paths[${i}]`, problems);
      if (path !== undefined) match.paths!.push(path);
    });
  }
  if (value.headers !== undefined) {
    match.headers = [];
    (Array.isArray(value.headers) ? value.headers : [null]).forEach((raw, i) => {
      const header = parseHeader(raw, `${field}.headers[${i}]`, problems);
      if (header !== undefined) match.headers!.push(header);
    });
  }
  return match;
}

function parsePath(raw: unknown, field: string, problems: Problems): PathMatch | undefined {
  if (!isObj(raw) || typeof raw.value !== 'string') {
    problems.add(field, 'needs type and value');
    return undefined;
  }
  const type = raw.type ?? 'PathPrefix';
  if (type === 'Exact' || type === 'PathPrefix') {
    if (!raw.value.startsWith('/')) {
      problems.add(`${field}.value`, 'must start with "/"');
      return undefined;
    }
    return { type, value: raw.value };
  }
  if (type === 'RegularExpression') {
    const problem = regularExpressionProblem(raw.value);
    if (problem !== undefined) {
      problems.add(`${field}.value`, problem);
      return undefined;
    }
    return { type, value: raw.value };
  }
  problems.add(`${field}.type`, `unsupported value ${JSON.stringify(type)}: Exact, PathPrefix or RegularExpression`);
  return undefined;
}

function parseHeader(raw: unknown, field: string, problems: Problems): HeaderMatch | undefined {
  if (!isObj(raw) || typeof raw.name !== 'string' || !HTTP_TOKEN.test(raw.name) || typeof raw.value !== 'string') {
    problems.add(field, 'needs a header name (an HTTP token) and a value');
    return undefined;
  }
  const type = raw.type ?? 'Exact';
  if (type === 'RegularExpression') {
    const problem = regularExpressionProblem(raw.value);
    if (problem !== undefined) {
      problems.add(`${field}.value`, problem);
      return undefined;
    }
  } else if (type !== 'Exact') {
    problems.add(`${field}.type`, `unsupported value ${JSON.stringify(type)}: Exact or RegularExpression`);
    return undefined;
  }
  return { name: raw.name.toLowerCase(), type, value: raw.value };
}

function parseGrpc(value: unknown, field: string, problems: Problems): GrpcMatch[] | null {
  if (!Array.isArray(value)) {
    problems.add(field, 'must be a list of {service, method}');
    return null;
  }
  const matches: GrpcMatch[] = [];
  value.forEach((raw, i) => {
    if (!isObj(raw) || typeof raw.service !== 'string' || !/^[A-Za-z_][\w.]*$/.test(raw.service) ||
        (raw.method !== undefined && (typeof raw.method !== 'string' || !/^[A-Za-z_]\w*$/.test(raw.method)))) {
      problems.add(`${field}[${i}]`, 'needs service (a full protobuf service name) and optionally method');
      return;
    }
    matches.push({ service: raw.service, method: (raw.method as string | undefined) ?? null });
  });
  return matches;
}
