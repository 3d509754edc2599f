// `up`: starts the bed daemon detached (it outlives this command) and waits until it reports the
// bed ready. Running `up` on a bed that is already up is an error (exit 1) rather than a silent
// no-op, because the requested node count or kubeconfig may differ from the running bed's.
// Leftovers of a crashed bed with the same state dir are cleaned up first.
import { spawn } from 'node:child_process';
import { openSync, closeSync, existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParsedCommandLine, UsageError, booleanFlag, integerFlag, positionals, stringFlag } from '../cli-args.js';
import { readBedRecord } from '../bed-state.js';
import { isOurProcess } from '../bed-processes.js';
import { bedPrefix, bedCgroupRoot } from '../bed-naming.js';
import { listNetns } from '../netns-ops.js';
import { teardownBed } from '../teardown.js';
import { MAX_NODES } from '../node-plan.js';
import { DEFAULT_CERT_TTL, parseCertTtl } from '../cert-ttl.js';
import { waitFor } from '../../../support/wait-for.js';
import type { BedContext } from './bed-context.js';

const daemonMain = fileURLToPath(new URL('../daemon-main.js', import.meta.url));
const UP_TIMEOUT_MS = 120_000;
/** --from-chart also renders and applies the chart and waits for its pods' readiness probes. */
const UP_FROM_CHART_TIMEOUT_MS = 240_000;
/** Flags that configure the supervised agents and CA, which --from-chart replaces by the chart. */
const SUPERVISED_ONLY_FLAGS = ['kubeconfig', 'no-controllers', 'no-agent', 'no-ca', 'cert-ttl'];

async function hasLeftovers(ctx: BedContext): Promise<boolean> {
  const prefix = bedPrefix(ctx.stateDir);
  if (existsSync(ctx.paths.bedJson) || existsSync(bedCgroupRoot(prefix))) return true;
  return (await listNetns()).some((name) => name.startsWith(`${prefix}-`));
}

async function logTail(path: string, lines: number): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(could not read ${path}: ${(err as Error).message})`;
  }
}

export async function upCommand(ctx: BedContext, parsed: ParsedCommandLine): Promise<number> {
  positionals(parsed, []);
  const nodeCount = integerFlag(parsed, 'nodes', 1, MAX_NODES) ?? 2;
  const kubeconfigFlag = stringFlag(parsed, 'kubeconfig');
  const kubeconfig = kubeconfigFlag === undefined ? null : resolve(kubeconfigFlag);
  if (kubeconfig && !existsSync(kubeconfig)) throw new UsageError(`--kubeconfig ${kubeconfig}: no such file`);
  const noCa = booleanFlag(parsed, 'no-ca');
  const certTtlFlag = stringFlag(parsed, 'cert-ttl');
  if (noCa && certTtlFlag !== undefined) throw new UsageError('--cert-ttl has no effect with --no-ca');
  const certTtl = parseCertTtl(certTtlFlag ?? DEFAULT_CERT_TTL);
  const fromChart = booleanFlag(parsed, 'from-chart');
  const valuesFlag = stringFlag(parsed, 'values');
  if (valuesFlag !== undefined && !fromChart) throw new UsageError('--values needs --from-chart');
  const valuesFile = valuesFlag === undefined ? null : resolve(valuesFlag);
  if (valuesFile && !existsSync(valuesFile)) throw new UsageError(`--values ${valuesFile}: no such file`);
  if (fromChart) {
    // The chart's values decide these; the chart needs the bed's own API server, controllers and kube-proxy.
    const clash = SUPERVISED_ONLY_FLAGS.find((flag) => parsed.flags.has(flag));
    if (clash) throw new UsageError(`--${clash} cannot be combined with --from-chart (set the chart's values with --values instead)`);
  }

  const existing = await readBedRecord(ctx.paths.bedJson);
  if (existing && (await isOurProcess(existing.daemonPid, ['daemon-main.js', ctx.stateDir]))) {
    process.stderr.write(`bed: a bed is already running with state ${ctx.stateDir} (daemon pid ${existing.daemonPid}); run "down" first\n`);
    return 1;
  }
  if (await hasLeftovers(ctx)) {
    process.stderr.write(`bed: removing leftovers of a previous bed in ${ctx.stateDir}\n`);
    await teardownBed(ctx.stateDir);
  }

  await mkdir(ctx.paths.logsDir, { recursive: true });
  const args = [daemonMain, '--state', ctx.stateDir, '--nodes', String(nodeCount)];
  if (kubeconfig) args.push('--kubeconfig', kubeconfig);
  if (booleanFlag(parsed, 'no-controllers')) args.push('--no-controllers');
  if (booleanFlag(parsed, 'no-agent')) args.push('--no-agent');
  if (noCa) args.push('--no-ca');
  else if (!fromChart) args.push('--cert-ttl', certTtl.text);
  if (fromChart) args.push('--from-chart');
  if (valuesFile) args.push('--values', valuesFile);
  const logFd = openSync(ctx.paths.daemonLog, 'a');
  const daemon = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exitedWith: string | null = null;
  daemon.once('exit', (code, signal) => {
    exitedWith = String(code ?? signal);
  });

  try {
    // A probe that throws only counts as "not yet" for waitFor: a daemon exit ends the wait with a marker.
    const outcome = await waitFor(async () => {
      if (exitedWith !== null) return 'exited' as const;
      const current = await readBedRecord(ctx.paths.bedJson);
      return current && current.daemonPid === daemon.pid && current.phase === 'ready' ? current : undefined;
    }, { timeoutMs: fromChart ? UP_FROM_CHART_TIMEOUT_MS : UP_TIMEOUT_MS, intervalMs: 100, what: 'the bed daemon to report ready' });
    if (outcome === 'exited') throw new Error(`bed daemon exited (${exitedWith})`);
    const record = outcome;
    daemon.unref();
    const nodes = record.nodes.map((n) => `${n.name} ${n.ip} ${n.zone}`).join(', ');
    process.stdout.write(`bed is up with state ${ctx.stateDir}: ${nodes}; API server ${record.apiServerUrl}\n`);
    if (record.ca && fromChart) process.stdout.write(`chart: charts/weft installed in weft-system; ca: ${record.ca.address} (pid ${record.ca.pid}, node ${record.ca.node})\n`);
    else if (record.ca) process.stdout.write(`ca: ${record.ca.address} (pid ${record.ca.pid}), certificate lifetime ${record.certTtl}\n`);
    process.stdout.write(`kubeconfig: ${ctx.paths.kubeconfig}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`bed up failed: ${(err as Error).message}\n--- last lines of ${ctx.paths.daemonLog} ---\n${await logTail(ctx.paths.daemonLog, 30)}\n`);
    if (exitedWith === null && daemon.pid !== undefined) daemon.kill('SIGKILL');
    await teardownBed(ctx.stateDir);
    return 1;
  }
}
