// `weft policy explain`: what Weft's authorization would decide for one call, and why: each
// tier, each policy considered, the deciding rule. The same validation, table and evaluator as
// the agent (authz/), fed from the cluster (--kubeconfig) or from YAML files (-f, offline, for
// CI before policies are applied). Exit 0: allowed; 1: denied; 2: bad usage.
import type { Writable } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { buildAuthzTable } from '../authz/authz-table.js';
import { evaluateAuthz, type AuthzRequest, type AuthzSource, type HttpFacts } from '../authz/authz-evaluator.js';
import { AUTHZ_GROUP, AUTHZ_VERSION } from '../authz/policy-definition.js';
import { addObject, emptyWorld, ensureNamespace, loadWorldFromFiles, type PolicyWorld } from '../authz/policy-world.js';
import { matchesLabelSelector } from '../k8s/label-selector.js';
import { loadKubeConfig } from '../k8s/kube-config.js';
import { UsageError } from './usage-error.js';

export { POLICY_USAGE } from './policy-usage.js';

interface ExplainOptions {
  source: { namespace: string; serviceAccount: string } | { ip: string };
  service: string;
  namespace: string;
  port: number;
  method: string | undefined;
  path: string | undefined;
  headers: [string, string][];
  grpc: boolean;
  files: string[];
  kubeconfig: string | undefined;
  trustDomain: string;
}

export function parseExplainArgs(argv: readonly string[]): ExplainOptions {
  const options: Partial<ExplainOptions> & { headers: [string, string][]; files: string[] } = { headers: [], files: [], grpc: false, trustDomain: 'cluster.local' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--from': {
        const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(value());
        if (match === null) throw new UsageError('--from must be NAMESPACE/SERVICEACCOUNT');
        options.source = { namespace: match[1]!, serviceAccount: match[2]! };
        break;
      }
      case '--from-ip': {
        const ip = value();
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new UsageError(`--from-ip must be an IPv4 address, got "${ip}"`);
        options.source = { ip };
        break;
      }
      case '--to': {
        const match = /^([a-z0-9-]+)\.([a-z0-9-]+):(\d{1,5})$/.exec(value());
        if (match === null || Number(match[3]) < 1 || Number(match[3]) > 65535) throw new UsageError('--to must be SERVICE.NAMESPACE:PORT');
        options.service = match[1]!;
        options.namespace = match[2]!;
        options.port = Number(match[3]);
        break;
      }
      case '--method': options.method = value(); break;
      case '--path': options.path = value(); break;
      case '--header': {
        const header = value();
        const eq = header.indexOf('=');
        if (eq <= 0) throw new UsageError('--header must be NAME=VALUE');
        options.headers.push([header.slice(0, eq).toLowerCase(), header.slice(eq + 1)]);
        break;
      }
      case '--grpc': options.grpc = true; break;
      case '-f': case '--filename': options.files.push(value()); break;
      case '--kubeconfig': options.kubeconfig = value(); break;
      case '--trust-domain': options.trustDomain = value(); break;
      default: throw new UsageError(`unknown flag ${arg}`);
    }
  }
  if (options.source === undefined) throw new UsageError('--from or --from-ip is required');
  if (options.service === undefined) throw new UsageError('--to is required');
  if ((options.files.length > 0) === (options.kubeconfig !== undefined)) throw new UsageError('give either -f FILE_OR_DIR... or --kubeconfig FILE');
  return options as ExplainOptions;
}

export async function runPolicy(argv: readonly string[], out: Writable): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'explain') throw new UsageError(sub === undefined ? 'weft policy needs a subcommand (explain)' : `unknown policy subcommand "${sub}"`);
  const options = parseExplainArgs(rest);
  let world: PolicyWorld;
  if (options.kubeconfig !== undefined) {
    world = await loadWorldFromCluster(options.kubeconfig);
  } else {
    try {
      world = await loadWorldFromFiles(options.files);
    } catch (err) {
      // A missing file or a YAML error is the user's input: say which, no stack trace.
      throw new UsageError(`cannot read the policies: ${(err as Error).message}`);
    }
  }
  return explain(world, options, out);
}

/** Evaluates and prints; returns the exit code. */
export function explain(world: PolicyWorld, options: ExplainOptions, out: Writable): number {
  // The caller's namespace may appear in no file: known then by its name label alone.
  if ('namespace' in options.source && !world.namespaces.has(options.source.namespace)) ensureNamespace(world, options.source.namespace);
  const service = world.services.get(`${options.namespace}/${options.service}`);
  if (service === undefined) throw new UsageError(`Service ${options.namespace}/${options.service} not found${options.kubeconfig ? '' : ' in the files given (add its manifest)'}`);
  const servicePort = service.ports.find((p) => p.port === options.port);
  if (servicePort === undefined) throw new UsageError(`Service ${options.namespace}/${options.service} has no port ${options.port}`);
  const pod = world.pods.find((p) => p.namespace === options.namespace && Object.keys(service.selector).length > 0 && matchesLabelSelector({ matchLabels: { ...service.selector } }, p.labels));
  // Rules name the pod's port: the Service port's targetPort, a named one looked up on the pod
  // (without the pod, or without a targetPort, the Service port itself).
  const target = servicePort.targetPort;
  const podPort = typeof target === 'number' ? target : typeof target === 'string' && /^\d+$/.test(target) ? Number(target) : (typeof target === 'string' ? pod?.ports[target] : undefined) ?? options.port;
  const labels = pod?.labels ?? service.selector;
  const table = buildAuthzTable({
    policies: world.policies,
    namespaces: [...world.namespaces].map(([name, nsLabels]) => ({ name, labels: nsLabels })),
    workloads: [{ uid: 'destination', ip: 'destination', namespace: options.namespace, workload: pod?.name ?? options.service, labels }],
    serviceSelector: (namespace, name) => world.services.get(`${namespace}/${name}`)?.selector,
  });
  const source: AuthzSource = 'ip' in options.source
    ? { kind: 'plaintext', ip: options.source.ip }
    : { kind: 'mesh', spiffeId: `spiffe://${options.trustDomain}/ns/${options.source.namespace}/sa/${options.source.serviceAccount}`, ...options.source };
  const http: HttpFacts | undefined = options.method !== undefined || options.path !== undefined || options.headers.length > 0 || options.grpc
    ? {
        method: options.method ?? (options.grpc ? 'POST' : 'GET'),
        target: options.path ?? '/',
        grpc: options.grpc,
        header: (name) => options.headers.filter(([n]) => n === name).map(([, v]) => v),
      }
    : undefined;
  const workload = table.byPodIp.get('destination');
  const lines: string[] = [];
  const trace: string[] = [];
  const request: AuthzRequest = { source, port: podPort, http: http ?? 'pending' };
  let decision = evaluateAuthz(workload, request, trace);
  if (decision.decision === 'pending') {
    lines.push('the policies decide per HTTP request (give --method/--path/--header); below: a stream that is not HTTP');
    trace.length = 0;
    decision = evaluateAuthz(workload, { ...request, http: 'not-http' }, trace);
  }
  const who = source.kind === 'mesh' ? source.spiffeId : `${source.ip} (plaintext, no mesh identity)`;
  lines.unshift(
    `from:     ${who}`,
    `to:       ${options.service}.${options.namespace}:${options.port} (pod port ${podPort}, workload labels ${JSON.stringify(labels)})`,
    ...(http ? [`request:  ${http.method} ${http.target}${options.grpc ? ' (gRPC)' : ''}`] : []),
  );
  lines.push(`decision: ${decision.decision.toUpperCase()}`);
  lines.push(`by:       ${decision.policy}${decision.rule >= 0 ? ` rule ${decision.rule}` : ''}: ${decision.reason}`);
  if (decision.wouldBe) lines.push(`dry-run:  would be ${decision.wouldBe.decision.toUpperCase()} by ${decision.wouldBe.policy}`);
  for (const audit of decision.audited) lines.push(`audited:  ${audit}`);
  lines.push('trace:', ...(trace.length > 0 ? trace.map((t) => `  ${t}`) : ['  (no policy selects the destination)']));
  const selected = new Set(trace.map((t) => t.split(':')[0]));
  for (const policy of world.policies) {
    if (!selected.has(policy.id) || policy.problems.length === 0) continue;
    lines.push(`problems of ${policy.id} (enforced fail-closed):`, ...policy.problems.map((p) => `  ${p.field}: ${p.message}`));
  }
  out.write(`${lines.join('\n')}\n`);
  return decision.decision === 'deny' ? 1 : 0;
}

async function loadWorldFromCluster(kubeconfigPath: string): Promise<PolicyWorld> {
  const kubeConfig = loadKubeConfig(kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const world = emptyWorld();
  const withKind = (kind: string, items: KubernetesObject[]) => items.forEach((item) => addObject(world, { ...item, kind }));
  withKind('Namespace', (await core.listNamespace()).items);
  withKind('Service', (await core.listServiceForAllNamespaces()).items);
  withKind('Pod', (await core.listPodForAllNamespaces()).items);
  for (const [kind, plural] of [['AuthorizationPolicy', 'authorizationpolicies'], ['ClusterAuthorizationPolicy', 'clusterauthorizationpolicies']] as const) {
    const list = (await custom.listClusterCustomObject({ group: AUTHZ_GROUP, version: AUTHZ_VERSION, plural })) as { items: KubernetesObject[] };
    withKind(kind, list.items);
  }
  return world;
}
