// The header that tells an HTTP backend who called it: `x-weft-peer-identity: <the caller's
// verified SPIFFE ID>`, set by the destination node on every request it delivers. A backend
// may trust it only because no client can set it: every spelling a client sent (any case,
// any number of copies) is removed first.

export const PEER_IDENTITY_HEADER = 'x-weft-peer-identity';

/** Removes every client-sent copy from a flat [name, value, ...] list, then appends ours. */
export function setPeerIdentityHeader(headers: string[], identity: string): void {
  let write = 0;
  for (let read = 0; read < headers.length; read += 2) {
    if (headers[read]!.toLowerCase() === PEER_IDENTITY_HEADER) continue;
    headers[write] = headers[read]!;
    headers[write + 1] = headers[read + 1]!;
    write += 2;
  }
  headers.length = write;
  headers.push(PEER_IDENTITY_HEADER, identity);
}
