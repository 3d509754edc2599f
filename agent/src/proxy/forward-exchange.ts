// One HTTP request forwarded to an upstream pool: an undici dispatch handler (the raw, legacy
// callback interface, which undici drives without wrapping). The response streams to the
// client chunk by chunk; when the client cannot keep up, undici is paused and resumed on the
// response's 'drain'. Failures before the response started become error responses.
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { TrafficMetrics } from '../metrics/proxy-metrics.js';
import { classifyProxyError, sendErrorResponse } from './error-responses.js';
import { forwardableResponseHeaders } from './hop-by-hop-headers.js';
import type { ProxyResponse, ResponseOwner } from './proxy-response.js';
import type { UpstreamTarget } from './upstream-target.js';

/** Reason given to undici when the client went away; recognised in onError. */
const CLIENT_CLOSED = new Error('the client closed the connection before the response was complete');

export class ForwardExchange implements Dispatcher.DispatchHandler, ResponseOwner {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private clientGone = false;
  private finished = false;

  constructor(
    private readonly res: ProxyResponse,
    private readonly target: UpstreamTarget,
    private readonly traffic: TrafficMetrics,
    private readonly startedAtMs: number,
    private readonly log: Logger,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(CLIENT_CLOSED);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Informational answers (103 Early Hints, ...) are not relayed yet; the final one follows.
    if (statusCode < 200) return true;
    this.resumeUpstream = resume;
    const headers = forwardableResponseHeaders(rawHeaders);
    if (statusText === '') this.res.writeHead(statusCode, headers);
    else this.res.writeHead(statusCode, statusText, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // false pauses undici until resume() (the response's 'drain').
    return this.res.write(chunk);
  }

  onComplete(): void {
    this.finish(this.res.statusCode);
    this.res.end();
  }

  onError(err: Error): void {
    if (this.finished) return;
    if (err === CLIENT_CLOSED || this.clientGone) {
      // Nothing was answered; 0 is the conventional code for "no response" (as in Envoy).
      this.finish(0);
      return;
    }
    const code = classifyProxyError(err);
    this.log.warn({ code, upstream: this.target.key, err }, 'forwarding request failed');
    this.finish(sendErrorResponse(this.res, code));
  }

  resume(): void {
    this.resumeUpstream?.();
  }

  clientClosed(): void {
    if (this.finished) return;
    this.clientGone = true;
    this.abortUpstream?.(CLIENT_CLOSED);
  }

  private finish(statusCode: number): void {
    this.finished = true;
    this.res.owner = null;
    this.traffic.recordRequest(statusCode, (performance.now() - this.startedAtMs) / 1000);
  }
}
