// Node's ServerResponse with a slot for the exchange it belongs to, so the response's 'drain'
// and 'close' listeners can be plain module functions (this = the response) instead of a
// closure or a .bind per request.
import { ServerResponse, type IncomingMessage } from 'node:http';

/** What a response needs from the request forwarding it. */
export interface ResponseOwner {
  /** The client can take more bytes again. */
  resume(): void;
  /** The client connection closed; stop the upstream side if still running. */
  clientClosed(): void;
}

export class ProxyResponse extends ServerResponse<IncomingMessage> {
  owner: ResponseOwner | null = null;
}

export function onProxyResponseDrain(this: ProxyResponse): void {
  this.owner?.resume();
}

export function onProxyResponseClose(this: ProxyResponse): void {
  this.owner?.clientClosed();
}

/** Makes `owner` the one the response reports drain and close to (listeners are shared functions). */
export function ownProxyResponse(res: ProxyResponse, owner: ResponseOwner): void {
  res.owner = owner;
  res.on('drain', onProxyResponseDrain);
  res.on('close', onProxyResponseClose);
}
