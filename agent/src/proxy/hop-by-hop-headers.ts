// Hop-by-hop headers (RFC 9110 7.6.1) describe one connection, not the message: they are
// dropped when forwarding, together with any header the Connection header names. One pass over
// the raw header list in each direction (plus a second only when Connection names headers); undici refuses a forwarded transfer-encoding,
// keep-alive, upgrade or expect, and a forwarded `Connection: close` would kill pooled sockets.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node's server answers `Expect: 100-continue` itself; undici cannot forward it.
  'expect',
]);

/**
 * Appends the forwardable headers of a request to `out` as a flat [name, value, ...] list, from
 * Node's `req.rawHeaders` (original case and order kept, duplicates kept). Returns whether the
 * request carries a body (a non-zero content-length or any transfer-encoding), found in the
 * same pass so the caller need not build `req.headers`.
 */
export function forwardableRequestHeaders(rawHeaders: readonly string[], out: string[]): boolean {
  const start = out.length;
  let named: Set<string> | null = null;
  let hasBody = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') hasBody = true;
    else if (lower === 'content-length' && rawHeaders[i + 1] !== '0') hasBody = true;
    else if (lower === 'connection') named = addConnectionTokens(named, rawHeaders[i + 1]!);
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (named !== null) dropNamed(out, start, named);
  return hasBody;
}

/** The forwardable headers of an upstream response, from undici's raw Buffer list. */
export function forwardableResponseHeaders(rawHeaders: readonly Buffer[]): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') named = addConnectionTokens(named, rawHeaders[i + 1]!.toString('latin1'));
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!.toString('latin1'));
  }
  if (named !== null) dropNamed(out, 0, named);
  return out;
}

/** Rare: the Connection header named extra hop-by-hop headers; remove them in place. */
function dropNamed(out: string[], start: number, named: ReadonlySet<string>): void {
  let write = start;
  for (let read = start; read < out.length; read += 2) {
    if (named.has(out[read]!.toLowerCase())) continue;
    out[write] = out[read]!;
    out[write + 1] = out[read + 1]!;
    write += 2;
  }
  out.length = write;
}

function addConnectionTokens(named: Set<string> | null, value: string): Set<string> | null {
  for (const token of value.split(',')) {
    const trimmed = token.trim().toLowerCase();
    // close / keep-alive / upgrade are options, not header names worth a set.
    if (trimmed === '' || trimmed === 'close' || trimmed === 'keep-alive' || trimmed === 'upgrade') continue;
    named ??= new Set();
    named.add(trimmed);
  }
  return named;
}
