// Command-line options of `make bench` (node dist/test/bench/main.js [flags]); every figure of a
// run can be changed, and bad values are rejected with a clear message.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';

export type BenchPlacement = 'cross-node' | 'same-node';
export const BENCH_PLACEMENTS: readonly BenchPlacement[] = ['cross-node', 'same-node'];

export interface BenchOptions {
  placement: BenchPlacement;
  connections: number;
  threads: number;
  durationSeconds: number;
  rounds: number;
  warmupSeconds: number;
  lowLoadSeconds: number;
  newConnectionsSeconds: number;
  outDir: string;
  help: boolean;
}

export const BENCH_USAGE = `usage: node dist/test/bench/main.js [flags]   (or: make bench BENCH_FLAGS="...")
  --placement P       cross-node (default: clients on node-1, server on node-2, a two-node bed)
                      or same-node (all on node-1 of a one-node bed: the first path's set-up)
  --connections N     wrk connections for the load and new-connection rounds (default 50)
  --threads N         wrk threads (default 1: on 2 cores wrk must not starve the proxy or the server)
  --duration S        seconds per load round (default 10)
  --rounds N          load rounds per path, interleaved direct/meshed (default 3)
  --warmup S          seconds of unrecorded load per path first (default 3)
  --low-load S        seconds per 1-connection latency round (default 5; rounds as --rounds)
  --new-connections S seconds per "Connection: close" round, one TCP connection per request
                      (default 5; rounds as --rounds)
  --out DIR           where the JSON result goes (default dist/bench)
  --help              this text`;

export class BenchUsageError extends Error {}

function positiveInteger(flag: string, text: string | boolean | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (typeof text !== 'string') throw new BenchUsageError(`--${flag} needs a value`);
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max) throw new BenchUsageError(`--${flag} must be an integer 1..${max}, got "${text}"`);
  return value;
}

export function parseBenchOptions(argv: string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        connections: { type: 'string' }, threads: { type: 'string' }, duration: { type: 'string' }, rounds: { type: 'string' },
        warmup: { type: 'string' }, 'low-load': { type: 'string' },
        'new-connections': { type: 'string' }, placement: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new BenchUsageError((err as Error).message);
  }
  const connections = positiveInteger('connections', values['connections'], 50, 10_000);
  const threads = positiveInteger('threads', values['threads'], 1, 64);
  if (threads > connections) throw new BenchUsageError(`--threads (${threads}) cannot exceed --connections (${connections})`);
  const placementText = values['placement'] ?? 'cross-node';
  if (typeof placementText !== 'string' || !(BENCH_PLACEMENTS as readonly string[]).includes(placementText)) {
    throw new BenchUsageError(`--placement must be one of ${BENCH_PLACEMENTS.join(', ')}, got "${String(placementText)}"`);
  }
  return {
    placement: placementText as BenchPlacement,
    connections,
    threads,
    durationSeconds: positiveInteger('duration', values['duration'], 10, 3600),
    rounds: positiveInteger('rounds', values['rounds'], 3, 100),
    warmupSeconds: positiveInteger('warmup', values['warmup'], 3, 600),
    lowLoadSeconds: positiveInteger('low-load', values['low-load'], 5, 3600),
    newConnectionsSeconds: positiveInteger('new-connections', values['new-connections'], 5, 3600),
    outDir: typeof values['out'] === 'string' ? values['out'] : join(repoRoot, 'dist', 'bench'),
    help: values['help'] === true,
  };
}
