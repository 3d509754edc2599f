// A container's livenessProbe (tcpSocket or httpGet), run from the node namespace as kubelet runs
// it: first after initialDelaySeconds, then every periodSeconds; failureThreshold failures in a
// row and the container is killed (its restart then follows restartPolicy). One prober per
// container run: a restarted container gets a new one.
import type { V1Container } from '@kubernetes/client-node';
import type { NodeHelper } from '../node-helper-client.js';

export interface LivenessCheck {
  kind: 'tcp' | 'http';
  port: number;
  path?: string;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

function resolvePort(container: V1Container, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port);
  const value = named?.containerPort ?? Number(port);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`container ${container.name}: liveness probe port ${String(port)} is not a number or a named containerPort`);
  return value;
}

/** The container's liveness check, or null without a (tcpSocket/httpGet) livenessProbe. */
export function livenessCheck(container: V1Container): LivenessCheck | null {
  const probe = container.livenessProbe;
  if (!probe) return null;
  const timing = {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    failureThreshold: probe.failureThreshold ?? 3,
  };
  if (probe.tcpSocket) return { kind: 'tcp', port: resolvePort(container, probe.tcpSocket.port as number | string), ...timing };
  if (probe.httpGet) return { kind: 'http', port: resolvePort(container, probe.httpGet.port as number | string), path: probe.httpGet.path ?? '/', ...timing };
  throw new Error(`container ${container.name}: only tcpSocket and httpGet liveness probes are supported by the test bed`);
}

export class LivenessProber {
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly check: LivenessCheck,
    private readonly helper: NodeHelper,
    private readonly host: string,
    /** Called once when the threshold is reached, with the last failure. */
    private readonly onDead: (detail: string) => void,
  ) {}

  start(): void {
    this.schedule(this.check.initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probeOnce();
    }, delayMs);
    this.timer.unref();
  }

  private async probeOnce(): Promise<void> {
    const answer = await this.helper.probe({ kind: this.check.kind, host: this.host, port: this.check.port, path: this.check.path, timeoutMs: this.check.timeoutMs });
    if (this.stopped) return;
    if (answer.ok) {
      this.failures = 0;
    } else if (++this.failures >= this.check.failureThreshold) {
      this.stop();
      this.onDead(`${this.check.kind} :${this.check.port}${this.check.path ?? ''} failed ${this.failures} times: ${answer.detail ?? ''}`);
      return;
    }
    this.schedule(this.check.periodMs);
  }
}
