// A tcpdump capture inside a network namespace, for tests that must prove what crossed a link:
// `ip netns exec NS tcpdump -i IFACE -w FILE -U --immediate-mode FILTER...`. `ip netns exec`
// execs tcpdump in place, so the child's PID is tcpdump's own and stop() ends exactly it.
// Packets are written one by one as they arrive (-U, --immediate-mode), so the file can be read
// while the capture runs; stop() lets tcpdump flush and reports packets the kernel dropped,
// because a capture that lost packets proves nothing about what is absent from it.
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { waitFor } from './wait-for.js';

export interface PacketCaptureOptions {
  netns: string;
  iface: string;
  /** Where the pcap goes; its directory must exist. */
  file: string;
  /** A pcap filter expression, as separate words (e.g. ['tcp']). */
  filter: string[];
  startTimeoutMs?: number;
}

export interface CaptureSummary {
  /** tcpdump's own count of packets the kernel dropped before it could read them. */
  droppedByKernel: number;
  stderr: string;
}

const STOP_TIMEOUT_MS = 10_000;

export class PacketCapture {
  private stderr = '';
  private exited = false;
  private readonly exitPromise: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly file: string,
  ) {
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exited = true;
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts tcpdump and resolves once it is capturing (it said so and the pcap header is written). */
  static async start(options: PacketCaptureOptions): Promise<PacketCapture> {
    // -Z root: tcpdump would otherwise switch to its own user, which may not write the file's directory.
    const args = ['netns', 'exec', options.netns, 'tcpdump', '-i', options.iface, '-w', options.file, '-U', '--immediate-mode', '-Z', 'root', ...options.filter];
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    await spawned;
    const capture = new PacketCapture(child, options.file);
    try {
      await waitFor(
        async () => {
          if (capture.exited) throw new Error(`tcpdump exited early: ${capture.stderr.trim()}`);
          if (!capture.stderr.includes('listening on')) return false;
          return (await stat(options.file)).size >= 24;
        },
        { timeoutMs: options.startTimeoutMs ?? 30_000, what: `tcpdump listening on ${options.iface} in ${options.netns}` },
      );
    } catch (err) {
      await capture.stop();
      throw err;
    }
    return capture;
  }

  /** Stops tcpdump (SIGINT, so it flushes; SIGKILL if it hangs). Safe to call twice. */
  async stop(): Promise<CaptureSummary> {
    if (!this.exited) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => {
        if (!this.exited) this.child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      await this.exitPromise;
      clearTimeout(timer);
    }
    const dropped = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    return { droppedByKernel: dropped ? Number(dropped[1]) : Number.NaN, stderr: this.stderr };
  }
}
