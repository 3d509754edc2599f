// `make bench`: the mesh's benchmark (not a test). On a bed of its own it runs wrk from client pods
// on node-1 against a lean HTTP server pod - on node-2 by default (--placement cross-node), or on
// node-1 (same-node, the first path's set-up) - directly (pod IP, no mesh) and through both
// proxies with mTLS (enrolled namespace, Service ClusterIP, node-1's proxy, HBONE to the server's
// node), in interleaved rounds of three kinds: 50 keep-alive connections (rate), one connection
// (latency), and "Connection: close" (new connections per second). It reports medians, ratios to
// the direct path, both agents' CPU per request, and TLS handshakes per 1000 requests; every round
// proves which path it measured. The bed is taken down at the end, also on failure and on Ctrl-C.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchBed } from './bench-bed.js';
import { BENCH_USAGE, BenchUsageError, parseBenchOptions, type BenchOptions } from './bench-options.js';
import { BENCH_BODY } from './bench-body.js';
import { runRound, type RoundPhase, type RoundRecord } from './bench-round.js';
import { summarise } from './bench-summary.js';
import { formatHboneCheck, formatRound, formatSummary } from './bench-table.js';
import { deployWorkloads, readMeshCounters, serverNodeName, settledMeshCounters, verifyPaths, type BenchTargets } from './bench-workloads.js';
import type { MeshCounters } from './mesh-counters.js';
import { hboneBytesProblem } from './round-checks.js';
import type { WrkLoad } from './wrk-report.js';

// `make test` runs every .js file under dist/test through `node --test`; the benchmark is not a
// test and takes minutes, so it does nothing there.
if (process.env['NODE_TEST_CONTEXT'] !== undefined) process.exit(0);

const started = Date.now();
function log(message: string): void {
  process.stdout.write(`[bench +${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${message}\n`);
}

function requireTools(): void {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, cgroups, bpffs); run it as root');
  for (const tool of ['wrk', 'bpftool', 'curl', 'kubectl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`"${tool}" is not installed; run scripts/setup.sh (make bench does) first`);
    }
  }
}

async function runRounds(bed: BenchBed, targets: BenchTargets, options: BenchOptions, rounds: RoundRecord[]): Promise<void> {
  // The HBONE server counts a tunnelled connection's bytes when it ends, and the proxy keeps idle
  // upstream connections for a few seconds: a meshed round's byte check waits until they ended,
  // which is done just before the next meshed round (usually after a direct round, so no wait).
  let pending: { record: RoundRecord; before: MeshCounters } | null = null;
  const settle = async (): Promise<MeshCounters> => {
    const counters = await settledMeshCounters(bed, targets);
    if (pending !== null) {
      const { record, before } = pending;
      const bytesBack = counters.tunnelledSentBytes - before.tunnelledSentBytes;
      record.hbone = { tunnelledConnections: counters.tunnelledOpened - before.tunnelledOpened, bytesBack };
      const problem = hboneBytesProblem(record, bytesBack, Buffer.byteLength(BENCH_BODY));
      if (problem !== null) throw new Error(problem);
      process.stdout.write(`${formatHboneCheck(record)}\n`);
      pending = null;
    }
    return counters;
  };
  const run = async (phase: RoundPhase, round: number, load: WrkLoad, order: readonly ('direct' | 'meshed')[]) => {
    for (const name of order) {
      const before = name === 'meshed' ? await settle() : await readMeshCounters(bed, targets);
      const record = await runRound(bed, targets, targets[name], load, phase, round, before);
      rounds.push(record);
      process.stdout.write(`${formatRound(record)}\n`);
      if (name === 'meshed') pending = { record, before };
    }
  };
  // Alternating the order each round spreads slow drifts of the shared machine over both paths.
  const orderOf = (round: number) => (round % 2 === 0 ? ['direct', 'meshed'] as const : ['meshed', 'direct'] as const);
  const load = { connections: options.connections, threads: options.threads, durationSeconds: options.durationSeconds };
  log(`warm-up: ${options.warmupSeconds} s per path (JIT of server and proxies, pooled upstream connections and tunnels), not recorded in the figures`);
  await run('warmup', 1, { ...load, durationSeconds: options.warmupSeconds }, ['direct', 'meshed']);
  log(`load: ${options.rounds} x ${options.durationSeconds} s per path, wrk -t${options.threads} -c${options.connections}, keep-alive`);
  for (let i = 1; i <= options.rounds; i++) await run('load', i, load, orderOf(i - 1));
  log(`low load: ${options.rounds} x ${options.lowLoadSeconds} s per path, wrk -t1 -c1 (latency of the path itself)`);
  for (let i = 1; i <= options.rounds; i++) await run('low-load', i, { connections: 1, threads: 1, durationSeconds: options.lowLoadSeconds }, orderOf(i - 1));
  log(`new connections: ${options.rounds} x ${options.newConnectionsSeconds} s per path, wrk -t${options.threads} -c${options.connections} -H 'Connection: close' (one TCP connection per request)`);
  for (let i = 1; i <= options.rounds; i++) {
    await run('new-connections', i, { ...load, durationSeconds: options.newConnectionsSeconds, newConnections: true }, orderOf(i - 1));
  }
  await settle();
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  requireTools();

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`bench: ${signal} again; still taking the bed down, please wait\n`);
      return;
    }
    process.stderr.write(`bench: ${signal}: stopping and taking the bed down\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  const startedAt = new Date();
  const loadAverageAtStart = loadavg();
  const cpuList = cpus();
  const machine = {
    cpus: cpuList.length, cpuModel: cpuList[0]?.model ?? 'unknown', memoryBytes: totalmem(), kernel: release(), node: process.version,
    wrk: execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1'], { encoding: 'utf8' }).trim(),
  };
  log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), load average at start ${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);

  const bed = await BenchBed.create(controller.signal);
  const rounds: RoundRecord[] = [];
  let exitCode = 0;
  try {
    const nodes = options.placement === 'cross-node' ? 2 : 1;
    log(`bringing up a ${nodes}-node bed with weft ca and the Weft agents (state ${bed.state})`);
    await bed.up(nodes);
    log(`deploying the wrk clients on node-1, the server and its Service on ${serverNodeName(options.placement)} (placement ${options.placement})`);
    const targets = await deployWorkloads(bed, options.placement);
    await verifyPaths(bed, targets);
    log(`verified: meshed ${targets.meshed.url} goes through ${targets.clientNode.name}'s proxy and ${targets.serverNode.name}'s HBONE server `
      + `(mutual TLS, ${targets.clientIdentity} -> ${targets.serverIdentity}); direct ${targets.direct.url} touches neither`);
    await runRounds(bed, targets, options, rounds);

    const summary = summarise(rounds, options.placement);
    const result = {
      command: `make bench${argv.length ? ` BENCH_FLAGS="${argv.join(' ')}"` : ''}`,
      startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
      machine: { ...machine, loadAverageAtStart, loadAverageAtEnd: loadavg() },
      options, paths: { direct: targets.direct.url, meshed: targets.meshed.url },
      nodes: { client: targets.clientNode, server: targets.serverNode },
      identities: { client: targets.clientIdentity, server: targets.serverIdentity },
      summary, rounds,
    };
    await mkdir(options.outDir, { recursive: true });
    const file = join(options.outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const json = `${JSON.stringify(result, null, 2)}\n`;
    await writeFile(file, json);
    await writeFile(join(options.outDir, 'latest.json'), json);
    process.stdout.write(`\nWeft ${options.placement === 'cross-node' ? 'across nodes with mTLS' : 'on one node (HBONE to its own node)'}, `
      + `medians of ${options.rounds} rounds per path; load average at start `
      + `${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`);
    process.stdout.write(`${formatSummary(summary, options.connections, { client: targets.clientNode.name, server: targets.serverNode.name })}\n\nresult: ${file}\n`);
  } catch (err) {
    exitCode = controller.signal.aborted ? 130 : 1;
    const reason = controller.signal.aborted ? (controller.signal.reason as Error).message : (err as Error).message;
    process.stderr.write(`bench: ${controller.signal.aborted ? 'stopped' : 'failed'}: ${reason}\n`);
    if (!controller.signal.aborted && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  } finally {
    log('taking the bed down');
    try {
      await bed.down();
    } catch (err) {
      process.stderr.write(`bench: bed down failed: ${(err as Error).message}; run: node dist/test/kit/bed/main.js down --state ${bed.state}\n`);
      exitCode = exitCode || 1;
    }
  }
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
