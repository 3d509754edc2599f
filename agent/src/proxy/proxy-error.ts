// An error the proxy raises itself (as opposed to one from a socket or undici), carrying its
// stable code so error-responses.ts can map it without guessing from the message.
import type { ProxyErrorCode } from './error-codes.js';

export class ProxyError extends Error {
  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProxyError';
  }
}
