// Decides, from the first bytes a caller sends through a tunnel, whether the stream must go
// through the destination's HTTP/1.x parser (so every request gets the verified
// `x-weft-peer-identity`) or may be relayed as opaque bytes.
//
// This is a security decision, not a convenience: whatever is relayed opaquely reaches the pod
// unparsed, so anything a backend's HTTP parser could read as a request must take the HTTP
// path. The test is therefore deliberately wide, and the parser (llhttp, strict) refuses what
// it cannot read with a 400 instead of passing it on:
// - leading CR/LF are skipped (HTTP servers ignore empty lines before a request line);
// - a first word of token characters followed by a space or tab makes the stream "HTTP-like";
//   its first line (up to LF) is then awaited, however slowly it arrives, and the stream is
//   HTTP/1.x if that line mentions `HTTP/` in any case, opaque otherwise (memcached's
//   `get key`, Redis inline commands);
// - anything else (TLS records, binary protocols, RESP's `*1\r\n`) is opaque at once;
// - the HTTP/2 connection preface is its own protocol: served by the HTTP/2 delivery, which
//   sets the identity on every request stream.
// An HTTP-like first line longer than MAX_FIRST_LINE_BYTES is refused, never passed on.

export type InboundProtocol = 'http1' | 'http2-prior-knowledge' | 'opaque' | 'undecided' | 'refused';

/** Node's default limit for a whole request head; a longer first line is not HTTP we serve. */
export const MAX_FIRST_LINE_BYTES = 16 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const HTTP2_PREFACE_LINE = 'PRI * HTTP/2.0';

/** RFC 9110 tchar: the characters of a method token. */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_CHAR[c] = 1;

export function detectInboundProtocol(bytes: Buffer): InboundProtocol {
  let start = 0;
  while (start < bytes.length && (bytes[start] === CR || bytes[start] === LF)) start++;
  if (start === bytes.length) return bytes.length > MAX_FIRST_LINE_BYTES ? 'refused' : 'undecided';
  let i = start;
  while (i < bytes.length && TOKEN_CHAR[bytes[i]!] === 1) i++;
  if (i === bytes.length) return i - start > MAX_FIRST_LINE_BYTES ? 'refused' : 'undecided';
  if (i === start || (bytes[i] !== SP && bytes[i] !== HTAB)) return 'opaque';
  const lineEnd = bytes.indexOf(LF, i);
  if (lineEnd < 0) return bytes.length - start > MAX_FIRST_LINE_BYTES ? 'refused' : 'undecided';
  if (lineEnd - start > MAX_FIRST_LINE_BYTES) return 'refused';
  const line = bytes.toString('latin1', start, lineEnd > start && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd);
  if (line === HTTP2_PREFACE_LINE) return 'http2-prior-knowledge';
  return line.toUpperCase().includes('HTTP/') ? 'http1' : 'opaque';
}
