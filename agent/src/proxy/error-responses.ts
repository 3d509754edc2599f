// The one place where failures become what the client sees: an HTTP status, an
// `x-weft-error: <code>` header and a short text body that tells an operator what to check.
// Everything else in the proxy only decides *which* code applies (classifyProxyError) and calls
// sendErrorResponse / rawErrorResponse; no other file writes an error status.
import type { ServerResponse } from 'node:http';
import { ProxyErrorCode } from './error-codes.js';
import { ProxyError } from './proxy-error.js';

export const WEFT_ERROR_HEADER = 'x-weft-error';

interface ErrorAnswer {
  readonly status: number;
  readonly reason: string;
  readonly hint: string;
}

const ANSWERS: Readonly<Record<ProxyErrorCode, ErrorAnswer>> = {
  [ProxyErrorCode.NO_ENDPOINTS]: {
    status: 503,
    reason: 'Service Unavailable',
    hint: 'the service port has no ready endpoints; check the Service selector and that its pods are Ready',
  },
  [ProxyErrorCode.UPSTREAM_REFUSED]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: 'the endpoint refused the connection; is the application listening on the target port?',
  },
  [ProxyErrorCode.UPSTREAM_RESET]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: 'the endpoint closed or reset the connection before answering completely',
  },
  [ProxyErrorCode.UPSTREAM_UNREACHABLE]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: 'no route to the endpoint; check the node network and that the pod still exists',
  },
  [ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT]: {
    status: 504,
    reason: 'Gateway Timeout',
    hint: 'connecting to the endpoint timed out; maybe a NetworkPolicy or firewall drops the traffic',
  },
  [ProxyErrorCode.UPSTREAM_TIMEOUT]: {
    status: 504,
    reason: 'Gateway Timeout',
    hint: 'the endpoint accepted the request but did not answer in time',
  },
  [ProxyErrorCode.UPSTREAM_PROTOCOL]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: 'the endpoint answered with invalid HTTP/1.1; set appProtocol: tcp on the Service port if it is not HTTP',
  },
  [ProxyErrorCode.MALFORMED_REQUEST]: {
    status: 400,
    reason: 'Bad Request',
    hint: 'the request is not valid HTTP/1.1 or cannot be forwarded',
  },
  [ProxyErrorCode.NO_ORIGINAL_DESTINATION]: {
    status: 500,
    reason: 'Internal Server Error',
    hint: 'the connection reached the proxy without a recorded original destination',
  },
  [ProxyErrorCode.NO_IDENTITY]: {
    status: 503,
    reason: 'Service Unavailable',
    hint: 'the source workload has no certificate yet, so cross-node mesh traffic is refused; check the agent log and that weft ca is reachable',
  },
  [ProxyErrorCode.PEER_IDENTITY_MISMATCH]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: "the destination node presented another identity than the destination pod's service account; the connection was refused",
  },
  [ProxyErrorCode.TUNNEL_FAILED]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: 'the mTLS tunnel to the destination node could not be opened; check that its agent runs and that nothing blocks HBONE port 15008',
  },
  [ProxyErrorCode.TUNNEL_REJECTED]: {
    status: 502,
    reason: 'Bad Gateway',
    hint: 'the destination node refused the tunnel: the target is not an enrolled pod there (stale endpoints?)',
  },
  [ProxyErrorCode.INBOUND_TARGET_FORBIDDEN]: {
    status: 403,
    reason: 'Forbidden',
    hint: 'the CONNECT target is not an enrolled pod of this node running as the identity named in SNI',
  },
  [ProxyErrorCode.INBOUND_BAD_AUTHORITY]: {
    status: 400,
    reason: 'Bad Request',
    hint: 'the CONNECT authority must be <pod IPv4 or [IPv6]>:<port>',
  },
  [ProxyErrorCode.AUTHZ_DENIED]: {
    status: 403,
    reason: 'Forbidden',
    // No policy names to the caller: the destination's agent log and metrics name the policy.
    hint: 'an authorization policy does not allow this request',
  },
  [ProxyErrorCode.INTERNAL]: {
    status: 500,
    reason: 'Internal Server Error',
    hint: 'unexpected failure in the node proxy; see the agent log',
  },
};

const SOCKET_ERROR_CODES: Readonly<Record<string, ProxyErrorCode>> = {
  ECONNREFUSED: ProxyErrorCode.UPSTREAM_REFUSED,
  ECONNRESET: ProxyErrorCode.UPSTREAM_RESET,
  ECONNABORTED: ProxyErrorCode.UPSTREAM_RESET,
  EPIPE: ProxyErrorCode.UPSTREAM_RESET,
  UND_ERR_SOCKET: ProxyErrorCode.UPSTREAM_RESET,
  UND_ERR_CLOSED: ProxyErrorCode.UPSTREAM_RESET,
  EHOSTUNREACH: ProxyErrorCode.UPSTREAM_UNREACHABLE,
  ENETUNREACH: ProxyErrorCode.UPSTREAM_UNREACHABLE,
  EHOSTDOWN: ProxyErrorCode.UPSTREAM_UNREACHABLE,
  ENETDOWN: ProxyErrorCode.UPSTREAM_UNREACHABLE,
  EADDRNOTAVAIL: ProxyErrorCode.UPSTREAM_UNREACHABLE,
  ETIMEDOUT: ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT,
  UND_ERR_CONNECT_TIMEOUT: ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT,
  UND_ERR_HEADERS_TIMEOUT: ProxyErrorCode.UPSTREAM_TIMEOUT,
  UND_ERR_BODY_TIMEOUT: ProxyErrorCode.UPSTREAM_TIMEOUT,
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: ProxyErrorCode.UPSTREAM_PROTOCOL,
  UND_ERR_RES_EXCEEDED_MAX_SIZE: ProxyErrorCode.UPSTREAM_PROTOCOL,
  UND_ERR_INFO: ProxyErrorCode.UPSTREAM_PROTOCOL,
  // Node refused to write a header or status line the upstream sent.
  ERR_INVALID_CHAR: ProxyErrorCode.UPSTREAM_PROTOCOL,
  ERR_HTTP_INVALID_HEADER_VALUE: ProxyErrorCode.UPSTREAM_PROTOCOL,
  ERR_INVALID_HTTP_TOKEN: ProxyErrorCode.UPSTREAM_PROTOCOL,
  ERR_HTTP_INVALID_STATUS_CODE: ProxyErrorCode.UPSTREAM_PROTOCOL,
  UND_ERR_INVALID_ARG: ProxyErrorCode.MALFORMED_REQUEST,
  UND_ERR_NOT_SUPPORTED: ProxyErrorCode.MALFORMED_REQUEST,
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: ProxyErrorCode.MALFORMED_REQUEST,
};

/** Which stable code a failure on the upstream side (or a refused request) stands for. */
export function classifyProxyError(err: unknown): ProxyErrorCode {
  if (err instanceof ProxyError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return ProxyErrorCode.INTERNAL;
  const mapped = SOCKET_ERROR_CODES[code];
  if (mapped !== undefined) return mapped;
  // undici reports llhttp parse failures of the response as HPE_* codes.
  if (code.startsWith('HPE_')) return ProxyErrorCode.UPSTREAM_PROTOCOL;
  return ProxyErrorCode.INTERNAL;
}

export function statusForErrorCode(code: ProxyErrorCode): number {
  return ANSWERS[code].status;
}

/**
 * Answers an HTTP request with the error `code`. When the response has already started, the
 * only honest signal left is to cut the client connection, so it is destroyed instead.
 * Returns the status the client saw (0 when the connection was cut).
 */
export function sendErrorResponse(res: ServerResponse, code: ProxyErrorCode): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const answer = ANSWERS[code];
  const body = `${code}: ${answer.hint}\n`;
  res.writeHead(answer.status, answer.reason, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [WEFT_ERROR_HEADER]: code,
  });
  res.end(body);
  return answer.status;
}

const rawResponses = new Map<ProxyErrorCode, Buffer>();

/**
 * The complete HTTP/1.1 error response as bytes, for sockets no longer owned by an http.Server
 * (unparseable requests, failed upgrades). It closes the connection: the byte stream after a
 * request we could not parse cannot be trusted.
 */
export function rawErrorResponse(code: ProxyErrorCode): Buffer {
  let bytes = rawResponses.get(code);
  if (bytes === undefined) {
    const answer = ANSWERS[code];
    const body = `${code}: ${answer.hint}\n`;
    bytes = Buffer.from(
      `HTTP/1.1 ${answer.status} ${answer.reason}\r\n` +
        'content-type: text/plain; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `${WEFT_ERROR_HEADER}: ${code}\r\n` +
        'connection: close\r\n\r\n' +
        body,
      'latin1',
    );
    rawResponses.set(code, bytes);
  }
  return bytes;
}
