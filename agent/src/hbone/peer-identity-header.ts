// Tells HTTP/1.x backends who called: on tunnel streams that carry HTTP/1.x, every request head
// gets `x-weft-peer-identity: <verified source SPIFFE ID>`, and any such header the client sent
// is removed (a client must not be able to claim an identity). Bytes are otherwise passed on
// untouched. To find each request head the request framing is followed (Content-Length,
// chunked bodies with trailers, pipelining); after an upgrade or CONNECT the rest is opaque.
//
// A stream whose first bytes are not an HTTP/1.x request line is passed through as opaque TCP.
// Once a stream is HTTP, framing this parser does not accept (both Transfer-Encoding and
// Content-Length, a bad chunk size, an oversized head) fails the stream instead of passing it
// on: following it blindly would let a crafted body smuggle a request with a forged header.
import { Transform, type TransformCallback } from 'node:stream';

export const PEER_IDENTITY_HEADER = 'x-weft-peer-identity';

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+ HTTP\/1\.[01]$/;
/** What the first bytes of an HTTP/1.x request can look like before its first space. */
const METHOD_PREFIX = /^[A-Z]{1,20}( |$)/;

type State =
  | 'detect'
  | 'head'
  | 'fixed-body'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-data-end'
  | 'trailers'
  | 'await-upgrade'
  | 'opaque';

export class PeerIdentityHeaderError extends Error {
  readonly code = 'ERR_WEFT_HTTP_FRAMING';
}

export class PeerIdentityHeaderInjector extends Transform {
  private state: State = 'detect';
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private heldCallback: TransformCallback | null = null;
  /** How many request heads were rewritten (tests, debugging). */
  requests = 0;

  /**
   * `onUpgradeRequested` is called when a request asked to switch protocols (Upgrade or
   * CONNECT); the caller must then call upgradeAnswered() with whether the backend's answer was
   * a 101 (or 2xx to CONNECT). Until then no further client bytes are forwarded: if the backend
   * declines, what follows is parsed as HTTP again (no forged identity slips through); if it
   * switched, the rest of the stream is opaque.
   */
  constructor(
    private readonly peerIdentity: string,
    private readonly onUpgradeRequested: () => void,
  ) {
    super({ allowHalfOpen: true });
  }

  upgradeAnswered(switched: boolean): void {
    if (this.state !== 'await-upgrade') return;
    this.state = switched ? 'opaque' : 'head';
    const callback = this.heldCallback;
    this.heldCallback = null;
    try {
      this.consume(Buffer.alloc(0));
    } catch (err) {
      if (callback !== null) callback(err as Error);
      else this.destroy(err as Error);
      return;
    }
    if (callback !== null) callback();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    // Holding the callback is the backpressure: no more client bytes until the upgrade is answered.
    if (this.state === 'await-upgrade') this.heldCallback = callback;
    else callback();
  }

  override _flush(callback: TransformCallback): void {
    // A stream that ended inside a head or while still detecting: pass on what was held back
    // (an incomplete head is never completed, so no header can be forged with it).
    if (this.pending.length > 0 && (this.state === 'detect' || this.state === 'opaque')) this.push(this.pending);
    this.pending = Buffer.alloc(0);
    callback();
  }

  private consume(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      switch (this.state) {
        case 'await-upgrade':
          this.pending = data;
          return;
        case 'opaque':
          this.push(data);
          return;
        case 'detect': {
          const probe = data.toString('latin1', 0, Math.min(data.length, 21));
          if (!METHOD_PREFIX.test(probe)) {
            this.state = 'opaque';
            continue;
          }
          const lineEnd = data.indexOf('\r\n');
          if (lineEnd < 0) {
            if (data.length > MAX_LINE_BYTES) this.state = 'opaque';
            else this.pending = data;
            if (this.state === 'opaque') continue;
            return;
          }
          this.state = REQUEST_LINE.test(data.toString('latin1', 0, lineEnd)) ? 'head' : 'opaque';
          continue;
        }
        case 'head': {
          const end = data.indexOf(CRLF_CRLF);
          if (end < 0) {
            if (data.length > MAX_HEAD_BYTES) throw new PeerIdentityHeaderError('HTTP request head larger than 64 KiB');
            this.pending = data;
            return;
          }
          this.rewriteHead(data.toString('latin1', 0, end));
          data = data.subarray(end + 4);
          continue;
        }
        case 'fixed-body':
        case 'chunk-data': {
          const take = Math.min(this.remaining, data.length);
          this.push(data.subarray(0, take));
          this.remaining -= take;
          data = data.subarray(take);
          if (this.remaining === 0) this.state = this.state === 'fixed-body' ? 'head' : 'chunk-data-end';
          continue;
        }
        case 'chunk-data-end': {
          if (data.length < 2) {
            this.pending = data;
            return;
          }
          if (data[0] !== 0x0d || data[1] !== 0x0a) throw new PeerIdentityHeaderError('chunk data not followed by CRLF');
          this.push(data.subarray(0, 2));
          data = data.subarray(2);
          this.state = 'chunk-size';
          continue;
        }
        case 'chunk-size':
        case 'trailers': {
          const lineEnd = data.indexOf('\r\n');
          if (lineEnd < 0) {
            if (data.length > MAX_LINE_BYTES) throw new PeerIdentityHeaderError('chunk size or trailer line too long');
            this.pending = data;
            return;
          }
          const line = data.toString('latin1', 0, lineEnd);
          this.push(data.subarray(0, lineEnd + 2));
          data = data.subarray(lineEnd + 2);
          if (this.state === 'trailers') {
            if (line === '') this.state = 'head';
            continue;
          }
          const sizeText = line.split(';', 1)[0]!.trim();
          if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText)) throw new PeerIdentityHeaderError(`invalid chunk size "${sizeText}"`);
          const size = parseInt(sizeText, 16);
          if (size === 0) this.state = 'trailers';
          else {
            this.remaining = size;
            this.state = 'chunk-data';
          }
          continue;
        }
      }
    }
  }

  /** Emits the head without client-sent identity headers, plus ours, and sets up body framing. */
  private rewriteHead(head: string): void {
    const lines = head.split('\r\n');
    const requestLine = lines[0]!;
    if (!REQUEST_LINE.test(requestLine)) throw new PeerIdentityHeaderError('invalid HTTP/1.x request line');
    const method = requestLine.slice(0, requestLine.indexOf(' '));
    let out = requestLine + '\r\n';
    let contentLength: number | undefined;
    let chunked = false;
    let transferEncoding = false;
    let upgrade = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new PeerIdentityHeaderError('invalid HTTP header line');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === PEER_IDENTITY_HEADER) continue;
      if (name === 'content-length') {
        if (!/^[0-9]{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== Number(value))) {
          throw new PeerIdentityHeaderError('invalid or conflicting Content-Length');
        }
        contentLength = Number(value);
      } else if (name === 'transfer-encoding') {
        transferEncoding = true;
        chunked = value.toLowerCase().split(',').map((coding) => coding.trim()).at(-1) === 'chunked';
      } else if (name === 'upgrade') {
        upgrade = true;
      }
      out += line + '\r\n';
    }
    if (transferEncoding && contentLength !== undefined) {
      throw new PeerIdentityHeaderError('both Transfer-Encoding and Content-Length');
    }
    if (transferEncoding && !chunked) throw new PeerIdentityHeaderError('a request Transfer-Encoding must end with chunked');
    out += `${PEER_IDENTITY_HEADER}: ${this.peerIdentity}\r\n\r\n`;
    this.push(Buffer.from(out, 'latin1'));
    this.requests++;
    if (chunked) {
      this.state = 'chunk-size';
    } else if (contentLength !== undefined && contentLength > 0) {
      this.remaining = contentLength;
      this.state = 'fixed-body';
    } else {
      this.state = 'head';
    }
    // An upgrade with a body is not waited for (the backend may want the body before it
    // answers); parsing simply goes on as HTTP, the safe side.
    if ((method === 'CONNECT' || upgrade) && this.state === 'head') {
      this.state = 'await-upgrade';
      this.onUpgradeRequested();
    }
  }
}
