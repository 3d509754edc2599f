// `run`: creates a Pod bound to a bed node (restartPolicy Never, like `kubectl run --restart=Never`)
// and waits until the bed's kubelet runs it - and, with --port, until the ports accept
// connections (Ready) - then prints the pod IP.
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { type ParsedCommandLine, UsageError, integerFlag, positionals, repeatedFlag, stringFlag } from '../cli-args.js';
import { loadKubeConfig, describeApiError, isConflict, isNotFound } from '../kube-client.js';
import { waitFor } from '../../../support/wait-for.js';
import { requireRunningBed, type BedContext } from './bed-context.js';

export const BED_IMAGE = 'weft-bed/host';

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const pair of text.split(',')) {
    const match = /^([^=]+)=(.*)$/.exec(pair);
    if (!match) throw new UsageError(`--labels: "${pair}" is not key=value`);
    labels[match[1]!] = match[2]!;
  }
  return labels;
}

function parsePorts(values: string[]): number[] {
  return values.map((value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`--port must be 1..65535, got "${value}"`);
    return port;
  });
}

export function podManifest(name: string, namespace: string, nodeName: string, command: string[], options: { labels: Record<string, string>; serviceAccount?: string; ports: number[] }): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: options.labels },
    spec: {
      nodeName,
      restartPolicy: 'Never',
      serviceAccountName: options.serviceAccount,
      containers: [{
        name,
        image: BED_IMAGE,
        command,
        ports: options.ports.map((containerPort) => ({ containerPort, protocol: 'TCP' })),
      }],
    },
  };
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export async function runCommand(ctx: BedContext, parsed: ParsedCommandLine): Promise<number> {
  const [name] = positionals(parsed, ['name']);
  const namespace = stringFlag(parsed, 'namespace') ?? 'default';
  const nodeName = stringFlag(parsed, 'node');
  if (!nodeName) throw new UsageError('run needs --node NODE');
  const command = parsed.rest ?? [];
  if (command.length === 0) throw new UsageError('run needs a command after --, e.g. run web --node node-1 -- python3 -m http.server 8080');
  const ports = parsePorts(repeatedFlag(parsed, 'port'));
  const labels = parseLabels(stringFlag(parsed, 'labels'));
  const timeoutSeconds = integerFlag(parsed, 'timeout', 1, 3600) ?? 60;

  const record = await requireRunningBed(ctx);
  if (!record.nodes.some((n) => n.name === nodeName)) {
    throw new UsageError(`--node ${nodeName} is not a node of this bed (nodes: ${record.nodes.map((n) => n.name).join(', ')})`);
  }
  const core = loadKubeConfig(record.kubeconfig).makeApiClient(CoreV1Api);
  try {
    await core.readNamespace({ name: namespace });
  } catch (err) {
    if (isNotFound(err)) throw new Error(`namespace "${namespace}" does not exist; create it first (kubectl --kubeconfig ${record.kubeconfig} create namespace ${namespace})`);
    throw err;
  }
  try {
    await core.createNamespacedPod({ namespace, body: podManifest(name!, namespace, nodeName, command, { labels, serviceAccount: stringFlag(parsed, 'service-account'), ports }) });
  } catch (err) {
    if (isConflict(err)) throw new Error(`pod ${namespace}/${name} already exists`);
    throw new Error(`creating pod ${namespace}/${name} failed: ${describeApiError(err)}`);
  }

  const pod = await waitFor(async () => {
    const current = await core.readNamespacedPod({ name: name!, namespace });
    const phase = current.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return current;
    if (phase === 'Running' && current.status?.podIP && (ports.length === 0 || isReady(current))) return current;
    return undefined;
  }, { timeoutMs: timeoutSeconds * 1000, intervalMs: 100, what: `pod ${namespace}/${name} to run${ports.length ? ' and be Ready' : ''}` });

  const phase = pod.status?.phase;
  if (phase === 'Failed') {
    process.stderr.write(`bed: pod ${namespace}/${name} failed; see ${ctx.paths.podLogsDir}/${namespace}_${name}.log\n`);
    return 1;
  }
  if (phase === 'Succeeded') process.stderr.write(`bed: pod ${namespace}/${name} already completed\n`);
  process.stdout.write(`${pod.status?.podIP ?? ''}\n`);
  return 0;
}
