// `exec`: runs a command inside a pod (its network namespace and its container's cgroup, joined
// before exec) or inside a node's network namespace, passing stdio and the exit code through.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type ParsedCommandLine, UsageError, stringFlag } from '../cli-args.js';
import { readPodRecords } from '../bed-state.js';
import { NETNS_DIR } from '../netns-ops.js';
import { ENTER_CGROUP_AND_NETNS } from '../kubelet/container-process.js';
import { requireRunningBed, type BedContext } from './bed-context.js';

function runInherited(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

export async function execCommand(ctx: BedContext, parsed: ParsedCommandLine): Promise<number> {
  const command = parsed.rest ?? [];
  if (command.length === 0) throw new UsageError('exec needs a command after --');
  const nodeName = stringFlag(parsed, 'node');
  const record = await requireRunningBed(ctx);

  if (nodeName !== undefined) {
    if (parsed.positionals.length > 0) throw new UsageError('exec takes either a pod NAME or --node NODE, not both');
    const node = record.nodes.find((n) => n.name === nodeName);
    if (!node) throw new UsageError(`--node ${nodeName} is not a node of this bed (nodes: ${record.nodes.map((n) => n.name).join(', ')})`);
    return runInherited('nsenter', [`--net=${NETNS_DIR}/${node.netns}`, '--', ...command]);
  }

  if (parsed.positionals.length !== 1) throw new UsageError('exec needs exactly one pod NAME (or --node NODE)');
  const name = parsed.positionals[0]!;
  const namespace = stringFlag(parsed, 'namespace') ?? 'default';
  const pod = (await readPodRecords(ctx.paths.podsDir)).find((p) => p.name === name && p.namespace === namespace);
  if (!pod) throw new Error(`pod ${namespace}/${name} is not running on this bed`);
  const cgroup = Object.values(pod.containerCgroups)[0] ?? pod.cgroup;
  return runInherited('sh', ['-c', ENTER_CGROUP_AND_NETNS, 'sh', cgroup, `${NETNS_DIR}/${pod.netns}`, ...command]);
}
