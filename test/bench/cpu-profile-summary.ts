// Where a profiled process spent its CPU: reads V8 .cpuprofile files (`node --cpu-prof`, one
// per thread) and prints self time by area (Weft's own code, each dependency, Node's built-in
// modules, GC, idle) and the top functions. Used to profile the agents under `make bench`:
//
//   WEFT_BED_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/weft-prof" node dist/test/bench/main.js
//   node dist/test/bench/cpu-profile-summary.js /tmp/weft-prof/CPU.*.<agent pid>.*.cpuprofile
//
// (the bed starts its agents with those Node flags; each thread of a process writes its own
// file when the agent exits: the control thread and each worker; the agent logs its pid).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The area a frame belongs to: a pseudo-frame, Weft, a package under node_modules, or Node itself. */
export function areaOf(frame: ProfileNode['callFrame']): string {
  const { functionName, url } = frame;
  if (url === '') {
    if (functionName === '(idle)' || functionName === '(garbage collector)' || functionName === '(program)') return functionName;
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/agent/src/') || url.includes('/native/src/')) return 'weft';
  return 'other';
}

export interface ProfileSummary {
  totalMs: number;
  byArea: [string, number][];
  topFunctions: [string, number][];
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    totalMs += ms;
    const area = areaOf(node.callFrame);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const where = node.callFrame.url === '' ? '' : ` ${basename(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const key = `${node.callFrame.functionName || '(anonymous)'}${where} [${area}]`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs, byArea: sorted(byArea), topFunctions: sorted(byFunction).slice(0, top) };
}

function main(files: string[]): number {
  if (files.length === 0) {
    process.stderr.write('usage: node dist/test/bench/cpu-profile-summary.js FILE.cpuprofile...\n');
    return 2;
  }
  for (const file of files) {
    const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    const busyMs = summary.totalMs - (summary.byArea.find(([area]) => area === '(idle)')?.[1] ?? 0);
    const pct = (ms: number): string => `${((ms / busyMs) * 100).toFixed(1).padStart(5)}%`;
    process.stdout.write(`\n${basename(file)}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy (shares below are of busy time)\n`);
    for (const [area, ms] of summary.byArea) if (area !== '(idle)') process.stdout.write(`  ${pct(ms)}  ${area}\n`);
    process.stdout.write('  top functions (self time):\n');
    for (const [name, ms] of summary.topFunctions) if (!name.startsWith('(idle)')) process.stdout.write(`  ${pct(ms)}  ${name}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) process.exit(main(process.argv.slice(2)));
