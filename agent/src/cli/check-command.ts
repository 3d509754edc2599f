// `weft check`: tells an operator whether this node can run the Weft agent, one line per
// requirement (kernel version, BTF, cgroup v2, bpffs, capabilities, libbpf, loading the
// programs), and exits 1 when any is missing.
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './usage-error.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

const MIN_KERNEL: [number, number] = [5, 8]; // CAP_BPF, bpf_link for cgroups, getpeername hooks
/**
 * What loading and attaching cgroup programs needs on 5.8+: CAP_BPF (load programs, create
 * maps) and CAP_NET_ADMIN (attach to cgroups). Memory for maps is charged to the memory cgroup
 * since 5.11, so no RLIMIT_MEMLOCK raise (CAP_SYS_RESOURCE) is needed.
 */
const CAPABILITIES: [string, number][] = [
  ['CAP_NET_ADMIN', 12],
  ['CAP_BPF', 39],
];
const DEFAULT_OBJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'bpf', 'build');

function kernelCheck(): CheckResult {
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
  const ok = major > MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor >= MIN_KERNEL[1]);
  return { name: 'kernel', ok, detail: `${release()} (needs ${MIN_KERNEL.join('.')} or newer)` };
}

function mountsOfType(type: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.split(' - ')[1]?.startsWith(`${type} `))
    .map((line) => line.split(' ')[4]!);
}

function capabilityCheck(): CheckResult {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  const effective = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
  const missing = CAPABILITIES.filter(([, bit]) => (effective & (1n << BigInt(bit))) === 0n).map(([name]) => name);
  return {
    name: 'capabilities',
    ok: missing.length === 0,
    detail: missing.length === 0 ? CAPABILITIES.map(([n]) => n).join(', ') : `missing ${missing.join(', ')}`,
  };
}

async function loadCheck(objectDir: string, bpffs: string | undefined): Promise<CheckResult> {
  if (!bpffs) return { name: 'load programs', ok: false, detail: 'skipped: no bpffs to pin maps in' };
  const { RedirectPrograms } = await import('../bpf/redirect-programs.js');
  const pinDir = mkdtempSync(join(bpffs, 'weft-check-'));
  try {
    const programs = RedirectPrograms.load({
      objectDir,
      pinDir,
      config: { agentCgroupId: 0n, proxyIp4: '127.0.0.1', proxyPort: 15001 },
    });
    programs.close();
    return { name: 'load programs', ok: true, detail: `the verifier accepted every program in ${objectDir}` };
  } catch (err) {
    return { name: 'load programs', ok: false, detail: (err as Error).message };
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
}

export async function runChecks(objectDir: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [kernelCheck()];
  const btf = existsSync('/sys/kernel/btf/vmlinux');
  results.push({ name: 'BTF', ok: btf, detail: btf ? '/sys/kernel/btf/vmlinux' : 'the kernel has no BTF (CONFIG_DEBUG_INFO_BTF)' });
  const cgroup2 = mountsOfType('cgroup2');
  results.push({ name: 'cgroup v2', ok: cgroup2.length > 0, detail: cgroup2[0] ?? 'not mounted' });
  const bpffs = mountsOfType('bpf');
  results.push({ name: 'bpffs', ok: bpffs.length > 0, detail: bpffs[0] ?? 'not mounted: mount -t bpf bpf /sys/fs/bpf' });
  results.push(capabilityCheck());
  const objects = existsSync(join(objectDir, 'connect4.bpf.o'));
  results.push({ name: 'bpf objects', ok: objects, detail: objects ? objectDir : `not found in ${objectDir} (run make)` });
  try {
    await import('../../../native/src/libbpf.js');
    results.push({ name: 'libbpf', ok: true, detail: 'libbpf.so.1 loaded' });
  } catch (err) {
    results.push({ name: 'libbpf', ok: false, detail: `${(err as Error).message} (Debian: apt-get install libbpf1)` });
    return results;
  }
  if (objects) results.push(await loadCheck(objectDir, bpffs[0]));
  return results;
}

export async function runCheck(argv: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  let objectDir = DEFAULT_OBJECT_DIR;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = true;
    else if (argv[i] === '--bpf-object-dir' && argv[i + 1]) objectDir = argv[++i]!;
    else throw new UsageError(`check: unknown argument ${argv[i]} (flags: --bpf-object-dir DIR, --json)`);
  }
  const results = await runChecks(objectDir);
  if (json) out.write(`${JSON.stringify(results, null, 2)}\n`);
  else for (const r of results) out.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(14)} ${r.detail}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}
