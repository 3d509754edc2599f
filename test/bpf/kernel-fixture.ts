// A small world for kernel tests: one network namespace with a "node" address on a veth pair,
// cgroups under a test-owned directory, a bpffs pin directory, and helpers to run listeners and
// clients inside them. Everything is named after the test and removed by cleanup(), also after
// a failure. Needs root.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { cgroup2MountPoint } from '../../agent/src/bpf/own-cgroup.js';
import { removeCgroupTree } from '../kit/index.js';

export class ConnectFailed extends Error {}

export interface OpenConnection {
  local: [string, number];
  peer: [string, number];
  release(): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

export class KernelFixture {
  readonly name: string;
  readonly cgroupRoot: string;
  readonly pinDir: string;
  /** The node's address; `peerIp` is a second address in the namespace that is not the node. */
  readonly nodeIp = '10.200.0.1';
  readonly peerIp = '10.200.0.2';
  /** The same two, in IPv6 (unique local addresses: never routed off the machine). */
  readonly nodeIp6 = 'fd00:200::1';
  readonly peerIp6 = 'fd00:200::2';
  private readonly children: ChildProcess[] = [];

  constructor(prefix: string) {
    this.name = uniqueName(prefix);
    this.cgroupRoot = join(cgroup2MountPoint(), this.name);
    this.pinDir = join('/sys/fs/bpf', this.name);
  }

  private inNetns(args: string[]): string {
    return sh('nsenter', [`--net=/run/netns/${this.name}`, ...args]);
  }

  setup(): void {
    sh('ip', ['netns', 'add', this.name]);
    this.inNetns(['ip', 'link', 'set', 'lo', 'up']);
    // A veth pair with both ends in the namespace stands in for the node's interface (no dummy
    // module on every kernel).
    this.inNetns(['ip', 'link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0p']);
    this.inNetns(['ip', 'addr', 'add', `${this.nodeIp}/24`, 'dev', 'node0']);
    this.inNetns(['ip', 'addr', 'add', `${this.peerIp}/24`, 'dev', 'node0p']);
    // nodad: usable at once, no duplicate address detection to wait for.
    this.inNetns(['ip', '-6', 'addr', 'add', `${this.nodeIp6}/64`, 'dev', 'node0', 'nodad']);
    this.inNetns(['ip', '-6', 'addr', 'add', `${this.peerIp6}/64`, 'dev', 'node0p', 'nodad']);
    this.inNetns(['ip', 'link', 'set', 'node0', 'up']);
    this.inNetns(['ip', 'link', 'set', 'node0p', 'up']);
    mkdirSync(this.cgroupRoot, { recursive: true });
  }

  cgroup(child: string): string {
    const path = join(this.cgroupRoot, child);
    mkdirSync(path, { recursive: true });
    return path;
  }

  /**
   * Starts a listener in the namespace (and in a cgroup, if given) that reports each accepted
   * peer as a JSON line; resolves once it listens.
   */
  async startListener(host: string, port: number, cgroup: string | null = null): Promise<{ lines: string[] }> {
    const script = `
      const net = require('node:net');
      net.createServer((s) => { console.log(JSON.stringify({ address: s.remoteAddress, port: s.remotePort }));
        s.on('error', () => {}); })
        .listen(${port}, '${host}', () => console.log('ready'));`;
    const child = this.spawnInside(cgroup, [process.execPath, '-e', script], 'ignore');
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    return waitFor(() => lines.includes('ready') && { lines }, { what: `listener on ${host}:${port}` });
  }

  /**
   * Connects from inside the namespace (and a cgroup, if given; from `sourceIp`, if given) and
   * keeps the connection open until `release()`. Rejects with ConnectFailed and the client's
   * error when the connect fails.
   */
  async connectFrom(
    cgroup: string | null,
    ip: string,
    port: number,
    options: { sourceIp?: string; timeoutSeconds?: number } = {},
  ): Promise<OpenConnection> {
    const source = options.sourceIp ? `, source_address=("${options.sourceIp}", 0)` : '';
    const py = `
import socket, json, sys
s = socket.create_connection(("${ip}", ${port}), timeout=${options.timeoutSeconds ?? 10}${source})
print(json.dumps({"local": s.getsockname(), "peer": s.getpeername()}), flush=True)
sys.stdin.read()
s.close()`;
    const child = this.spawnInside(cgroup, ['python3', '-c', py], 'pipe');
    const lines: string[] = [];
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    const first = await waitFor(
      () => {
        if (lines[0]) return lines[0];
        if (child.exitCode !== null) return { failed: stderr.trim().split('\n').pop() ?? '' };
        return undefined;
      },
      { what: `connect to ${ip}:${port}`, timeoutMs: 30_000 },
    );
    if (typeof first !== 'string') throw new ConnectFailed(first.failed);
    const result = JSON.parse(first) as { local: [string, number]; peer: [string, number] };
    return { ...result, release: () => child.stdin!.end() };
  }

  /** Runs a command in the namespace, moved into the cgroup (if any) before exec. */
  private spawnInside(cgroup: string | null, command: string[], stdin: 'pipe' | 'ignore'): ChildProcess {
    const joinCgroup = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && ` : '';
    const child = spawn('sh', ['-c', `${joinCgroup}exec nsenter --net=/run/netns/${this.name} "$@"`, 'sh', ...command], {
      stdio: [stdin, 'pipe', 'pipe'],
    });
    this.children.push(child);
    return child;
  }

  /** Kills what it started, then removes the cgroups and the namespace. */
  async cleanup(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await waitFor(() => this.children.every((c) => c.exitCode !== null || c.signalCode !== null), { what: 'test processes gone' });
    await removeCgroupTree(this.cgroupRoot);
    try {
      sh('ip', ['netns', 'del', this.name]);
    } catch (err) {
      if (!/No such file/.test(String((err as { stderr?: unknown }).stderr ?? err))) throw err;
    }
  }
}
