// Stable error codes of the node proxy. They appear in the `x-weft-error` response header, in
// logs (field `code`) and in `weft_proxy_rejected_connections_total{reason}`. Each one is
// documented in docs/errors.md; test/proxy/error-codes-documented.test.ts fails otherwise.
// Add codes, never rename them: users grep for them.
export const ProxyErrorCode = {
  /** The Service port has no ready endpoints. HTTP 503; opaque TCP: client connection reset. */
  NO_ENDPOINTS: 'ERR_PROXY_NO_ENDPOINTS',
  /** The endpoint refused the connection (nothing listening). HTTP 502. */
  UPSTREAM_REFUSED: 'ERR_PROXY_UPSTREAM_REFUSED',
  /** The endpoint reset or closed the connection before a complete response. HTTP 502. */
  UPSTREAM_RESET: 'ERR_PROXY_UPSTREAM_RESET',
  /** No route to the endpoint (host or network unreachable). HTTP 502. */
  UPSTREAM_UNREACHABLE: 'ERR_PROXY_UPSTREAM_UNREACHABLE',
  /** Connecting to the endpoint took longer than the connect timeout. HTTP 504. */
  UPSTREAM_CONNECT_TIMEOUT: 'ERR_PROXY_UPSTREAM_CONNECT_TIMEOUT',
  /** The endpoint accepted the request but did not answer in time. HTTP 504. */
  UPSTREAM_TIMEOUT: 'ERR_PROXY_UPSTREAM_TIMEOUT',
  /** The endpoint answered with something that is not valid HTTP/1.1. HTTP 502. */
  UPSTREAM_PROTOCOL: 'ERR_PROXY_UPSTREAM_PROTOCOL',
  /** The client sent a request the proxy cannot parse or forward. HTTP 400. */
  MALFORMED_REQUEST: 'ERR_PROXY_MALFORMED_REQUEST',
  /** The accepted connection has no recorded original destination. Connection reset, no response. */
  NO_ORIGINAL_DESTINATION: 'ERR_PROXY_NO_ORIGINAL_DESTINATION',
  /** The source workload has no certificate, so its cross-node traffic cannot be sent. HTTP 503; TCP: reset. */
  NO_IDENTITY: 'ERR_PROXY_NO_IDENTITY',
  /** The destination node presented a certificate for another identity than the destination pod's. HTTP 502. */
  PEER_IDENTITY_MISMATCH: 'ERR_PROXY_PEER_IDENTITY_MISMATCH',
  /** The HBONE tunnel to the destination node (port 15008) could not be opened (refused, TLS failed). HTTP 502. */
  TUNNEL_FAILED: 'ERR_PROXY_TUNNEL_FAILED',
  /** The destination node refused the CONNECT (target is not a mesh pod there, or malformed). HTTP 502. */
  TUNNEL_REJECTED: 'ERR_PROXY_TUNNEL_REJECTED',
  /** Inbound (15008): the CONNECT target is not an enrolled pod of this node with the presented identity. HTTP 403. */
  INBOUND_TARGET_FORBIDDEN: 'ERR_PROXY_INBOUND_TARGET_FORBIDDEN',
  /** Inbound (15008): the CONNECT authority is not `<pod ip>:<port>`. HTTP 400. */
  INBOUND_BAD_AUTHORITY: 'ERR_PROXY_INBOUND_BAD_AUTHORITY',
  /**
   * An authorization policy of the destination denies the connection or request. HTTP 403; gRPC
   * status 7; opaque TCP: reset. Named without ERR_PROXY_: it is a policy decision, not a proxy failure.
   */
  AUTHZ_DENIED: 'ERR_AUTHZ_DENIED',
  /** A bug or unexpected failure inside the proxy. HTTP 500. */
  INTERNAL: 'ERR_PROXY_INTERNAL',
} as const;

export type ProxyErrorCode = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

export const ALL_PROXY_ERROR_CODES: readonly ProxyErrorCode[] = Object.values(ProxyErrorCode);
