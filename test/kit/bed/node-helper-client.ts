// Daemon side of a node helper (see node-helper-main.ts): starts it inside the node namespace,
// restarts it if it dies, and turns probe requests into promises.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openSync, closeSync } from 'node:fs';
import type { ProbeAnswer, ProbeRequest } from './node-helper-main.js';
import { NETNS_DIR } from './netns-ops.js';

const helperScript = fileURLToPath(new URL('./node-helper-main.js', import.meta.url));

export interface NodeHelperOptions {
  netns: string;
  relayPort: number | null;   // null: no API relay (API server not on root loopback)
  relaySocket: string;
  /** Addresses besides 127.0.0.1 the relay listens on in the node namespace (the node IP). */
  relayHosts?: string[];
  logFile: string;
  log: (msg: string, fields?: object) => void;
}

type PendingProbe = (answer: ProbeAnswer) => void;

export class NodeHelper {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingProbe>();
  private stopping = false;

  constructor(private readonly options: NodeHelperOptions) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Starts the helper and resolves once its relay listens. */
  async start(): Promise<void> {
    const args = [`--net=${NETNS_DIR}/${this.options.netns}`, '--', process.execPath, helperScript];
    if (this.options.relayPort !== null) {
      args.push('--relay-port', String(this.options.relayPort), '--relay-socket', this.options.relaySocket);
      for (const host of this.options.relayHosts ?? []) args.push('--relay-host', host);
    }
    const logFd = openSync(this.options.logFile, 'a');
    const child = spawn('nsenter', args, { stdio: ['pipe', 'pipe', logFd] });
    closeSync(logFd);
    this.child = child;
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`node helper in ${this.options.netns} exited (${code ?? signal}) before it was ready; see ${this.options.logFile}`)));
      lines.on('line', (line) => {
        const message = JSON.parse(line) as ProbeAnswer | { ready: true };
        if ('ready' in message) {
          resolve();
          return;
        }
        const settle = this.pending.get(message.id);
        this.pending.delete(message.id);
        settle?.(message);
      });
    });
    child.on('exit', (code, signal) => {
      for (const settle of this.pending.values()) settle({ id: 0, ok: false, detail: 'node helper exited' });
      this.pending.clear();
      if (this.stopping || this.child !== child) return;
      this.options.log('node helper exited; restarting', { netns: this.options.netns, code, signal });
      setTimeout(() => {
        this.start().catch((err: unknown) => this.options.log('node helper restart failed', { netns: this.options.netns, err: String(err) }));
      }, 500);
    });
    await ready;
  }

  /** TCP connect (or HTTP GET when `path` is given) from inside the node namespace. */
  probe(request: Omit<ProbeRequest, 'id'>): Promise<ProbeAnswer> {
    const child = this.child;
    if (!child || child.exitCode !== null || !child.stdin?.writable) {
      return Promise.resolve({ id: 0, ok: false, detail: 'node helper not running' });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin?.end(); // the helper exits when stdin closes
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
