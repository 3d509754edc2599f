// Guards a tunnel stream that had to be relayed before its protocol was known: a caller whose
// first bytes might still start an HTTP request (only token characters, or a token and a space,
// and then silence) cannot be held forever, so after a short wait its bytes are relayed, but
// only while the first line cannot have become a request line. Once that line mentions `HTTP/`
// the stream is failed before those bytes reach the pod: an HTTP request never reaches a pod
// unparsed, however slowly it is typed. Once the first line ends without it, the stream is
// plain opaque bytes.
import { Transform, type TransformCallback } from 'node:stream';
import { MAX_FIRST_LINE_BYTES } from './inbound-protocol.js';

const CR = 0x0d;
const LF = 0x0a;

export class FirstLineGuardError extends Error {
  readonly code = 'ERR_WEFT_LATE_REQUEST_LINE';
}

export class FirstLineGuard extends Transform {
  /** The first line so far, leading empty lines skipped; null once it ended safely. */
  private line: string | null = '';

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.line === null) {
      callback(null, chunk);
      return;
    }
    let start = 0;
    if (this.line === '') while (start < chunk.length && (chunk[start] === CR || chunk[start] === LF)) start++;
    const lineEnd = chunk.indexOf(LF, start);
    this.line += chunk.toString('latin1', start, lineEnd < 0 ? chunk.length : lineEnd);
    if (this.line.toUpperCase().includes('HTTP/')) {
      callback(new FirstLineGuardError('an HTTP request line arrived on a stream relayed as opaque bytes'));
      return;
    }
    if (this.line.length > MAX_FIRST_LINE_BYTES) {
      callback(new FirstLineGuardError('the first line of a stream relayed as opaque bytes is too long'));
      return;
    }
    if (lineEnd >= 0 && this.line !== '') this.line = null;
    callback(null, chunk);
  }
}
