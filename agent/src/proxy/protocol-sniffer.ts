// Decides, from the first bytes a client sends, whether a connection carries HTTP/1.x (proxied
// at L7) or anything else (relayed as opaque bytes). Protocols where the server speaks first
// (SMTP, MySQL, SSH banners) send nothing, so after `timeoutMs` of silence the answer is TCP.
// The bytes read are pushed back into the socket so whoever takes it over sees them first.
import type { Socket } from 'node:net';

export type SniffedProtocol = 'http1' | 'tcp';
type Verdict = SniffedProtocol | 'need-more';

/**
 * Methods proxied at L7. Others (CONNECT, WebDAV, the HTTP/2 preface `PRI * HTTP/2.0`) are
 * relayed as opaque bytes, which keeps them working without the proxy understanding them.
 */
const HTTP_METHOD_PREFIXES: readonly Buffer[] = [
  'GET ', 'POST ', 'PUT ', 'DELETE ', 'HEAD ', 'OPTIONS ', 'PATCH ', 'TRACE ',
].map((prefix) => Buffer.from(prefix, 'latin1'));

/** 'http1' when the bytes start like an HTTP/1.x request line, 'need-more' when they might. */
export function classifyFirstBytes(bytes: Buffer): Verdict {
  let mightMatch = false;
  for (const prefix of HTTP_METHOD_PREFIXES) {
    const length = Math.min(prefix.length, bytes.length);
    if (bytes.compare(prefix, 0, length, 0, length) !== 0) continue;
    if (length === prefix.length) return 'http1';
    mightMatch = true;
  }
  return mightMatch ? 'need-more' : 'tcp';
}

/**
 * Called once the protocol is known. When the client already half-closed during sniffing,
 * `endedEarly` holds the bytes it sent (they cannot be unshifted after 'end'); otherwise they
 * were pushed back into the paused socket and `endedEarly` is null.
 */
export type SniffDone = (protocol: SniffedProtocol, endedEarly: Buffer | null) => void;

/**
 * Watches `socket` until the protocol is known, then pauses it, unshifts what was read and
 * calls `done` once. When the socket closes first, `done` is not called (the owner's 'close'
 * handler deals with that).
 */
export function sniffProtocol(socket: Socket, timeoutMs: number, done: SniffDone): void {
  new ProtocolSniff(socket, timeoutMs, done);
}

class ProtocolSniff {
  private buffered: Buffer | null = null;
  private readonly timer: NodeJS.Timeout;
  private finished = false;

  constructor(
    private readonly socket: Socket,
    timeoutMs: number,
    private readonly done: SniffDone,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.once('close', this.onClose);
    this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    const verdict = classifyFirstBytes(this.buffered);
    if (verdict !== 'need-more') this.finish(verdict);
  };

  // A client that half-closes before sending a full method is not speaking HTTP to us.
  private readonly onEnd = (): void => {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.detach();
    this.done('tcp', this.buffered ?? Buffer.alloc(0));
  };

  // When the event loop was blocked past the deadline, the timer phase runs before the poll
  // phase that would deliver bytes already waiting in the socket. Deciding in the check phase
  // (setImmediate) lets those bytes arrive first, so a busy proxy does not mistake HTTP for TCP.
  private readonly onTimeout = (): void => {
    setImmediate(this.onTimeoutAfterPoll);
  };

  private readonly onTimeoutAfterPoll = (): void => this.finish('tcp');

  private readonly onClose = (): void => {
    this.finished = true;
    clearTimeout(this.timer);
    this.detach();
  };

  private finish(protocol: SniffedProtocol): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.detach();
    this.socket.pause();
    if (this.buffered !== null) this.socket.unshift(this.buffered);
    this.done(protocol, null);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
  }
}
