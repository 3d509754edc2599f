// wrk as the load generator: the command line for one round, and the exact figures of the
// round read from the line our wrk script (wrk-report.lua) prints when wrk is done.
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';

/** The Lua script stays in the source tree (tsc does not copy it); pods run host binaries, so they see it. */
export const WRK_SCRIPT = join(repoRoot, 'test', 'bench', 'wrk-report.lua');
const REPORT_PREFIX = 'WEFT_BENCH_WRK ';

export interface WrkLoad {
  connections: number;
  threads: number;
  durationSeconds: number;
  /**
   * Sends "Connection: close" on every request: the server (or the proxy) answers and closes, and
   * wrk opens a new TCP connection for the next request, so the round's rate is a rate of new
   * connections.
   */
  newConnections?: boolean;
}

export interface WrkReport {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
}

export function wrkCommand(url: string, load: WrkLoad): string[] {
  // wrk's default 2 s timeout would hide a stalled proxy as "timeouts"; keep it and report them.
  const close = load.newConnections === true ? ['-H', 'Connection: close'] : [];
  return ['wrk', `-t${load.threads}`, `-c${load.connections}`, `-d${load.durationSeconds}s`, ...close, '--latency', '-s', WRK_SCRIPT, url];
}

export function requestsPerSecond(report: WrkReport): number {
  return report.requests / (report.durationUs / 1e6);
}

export function totalErrors(report: WrkReport): number {
  const e = report.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}

export function parseWrkReport(stdout: string): WrkReport {
  const line = stdout.split('\n').find((l) => l.startsWith(REPORT_PREFIX));
  if (line === undefined) throw new Error(`wrk printed no "${REPORT_PREFIX.trim()}" line (was it run with -s ${WRK_SCRIPT}?); output:\n${stdout}`);
  const report = JSON.parse(line.slice(REPORT_PREFIX.length)) as WrkReport;
  if (!Number.isFinite(report.requests) || !(report.durationUs > 0) || !Number.isFinite(report.latencyUs?.p99)) {
    throw new Error(`wrk report line is incomplete: ${line}`);
  }
  return report;
}
