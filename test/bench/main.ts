// `make bench`: the first path's benchmark (not a test). On a one-node bed of its own it runs wrk
// from a client pod against a lean HTTP server pod, directly (pod IP, no mesh) and through the
// node proxy (enrolled namespace, Service ClusterIP), in interleaved rounds, and reports medians:
// requests per second, p50/p99 latency, proxy CPU per 1000 requests, ratios to the direct path.
// The bed is taken down at the end, also on failure and on Ctrl-C.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchBed } from './bench-bed.js';
import { BENCH_USAGE, BenchUsageError, parseBenchOptions, type BenchOptions } from './bench-options.js';
import { runRound, type RoundPhase, type RoundRecord } from './bench-round.js';
import { summarise } from './bench-summary.js';
import { formatRound, formatSummary } from './bench-table.js';
import { deployWorkloads, verifyPaths, type BenchTargets } from './bench-workloads.js';
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
  const run = async (phase: RoundPhase, round: number, load: WrkLoad, order: readonly ('direct' | 'meshed')[]) => {
    for (const path of order) {
      const record = await runRound(bed, targets, targets[path], load, phase, round);
      rounds.push(record);
      process.stdout.write(`${formatRound(record)}\n`);
    }
  };
  // Alternating the order each round spreads slow drifts of the shared machine over both paths.
  const orderOf = (round: number) => (round % 2 === 0 ? ['direct', 'meshed'] as const : ['meshed', 'direct'] as const);
  const load = { connections: options.connections, threads: options.threads, durationSeconds: options.durationSeconds };
  log(`warm-up: ${options.warmupSeconds} s per path (JIT of server and proxy, pooled upstream connections), not recorded in the figures`);
  await run('warmup', 1, { ...load, durationSeconds: options.warmupSeconds }, ['direct', 'meshed']);
  log(`load: ${options.rounds} x ${options.durationSeconds} s per path, wrk -t${options.threads} -c${options.connections}, keep-alive`);
  for (let i = 1; i <= options.rounds; i++) await run('load', i, load, orderOf(i - 1));
  log(`low load: ${options.rounds} x ${options.lowLoadSeconds} s per path, wrk -t1 -c1 (latency of the path itself)`);
  for (let i = 1; i <= options.rounds; i++) await run('low-load', i, { connections: 1, threads: 1, durationSeconds: options.lowLoadSeconds }, orderOf(i - 1));
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
    log(`bringing up a one-node bed with the Weft agent (state ${bed.state})`);
    await bed.up();
    log('deploying the server, its Service and the two wrk clients on node-1');
    const targets = await deployWorkloads(bed);
    await verifyPaths(bed, targets);
    log(`verified: meshed ${targets.meshed.url} goes through the proxy (weft_requests_total moves), direct ${targets.direct.url} does not`);
    await runRounds(bed, targets, options, rounds);

    const summary = summarise(rounds);
    const result = {
      command: `make bench${argv.length ? ` BENCH_FLAGS="${argv.join(' ')}"` : ''}`,
      startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
      machine: { ...machine, loadAverageAtStart, loadAverageAtEnd: loadavg() },
      options, paths: { direct: targets.direct.url, meshed: targets.meshed.url },
      summary, rounds,
    };
    await mkdir(options.outDir, { recursive: true });
    const file = join(options.outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const json = `${JSON.stringify(result, null, 2)}\n`;
    await writeFile(file, json);
    await writeFile(join(options.outDir, 'latest.json'), json);
    process.stdout.write(`\nWeft first path, one node, medians of ${options.rounds} rounds per path; load average at start `
      + `${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`);
    process.stdout.write(`${formatSummary(summary, options.connections)}\n\nresult: ${file}\n`);
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
      process.stderr.write(`bench: bed down failed: ${(err as Error).message}; run: node dist/test/bed/main.js down --state ${bed.state}\n`);
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
