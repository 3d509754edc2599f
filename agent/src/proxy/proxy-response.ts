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

/** What counts the requests of a client connection that are still being answered. */
export interface InFlightCounter {
  requestsInFlight: number;
}

export class ProxyResponse extends ServerResponse<IncomingMessage> {
  owner: ResponseOwner | null = null;
  counter: InFlightCounter | null = null;
}

/** Counts the response in flight on `counter` until it closes (a shared listener, no closure). */
export function countInFlight(res: ProxyResponse, counter: InFlightCounter): void {
  counter.requestsInFlight++;
  res.counter = counter;
  res.once('close', onCountedResponseClose);
}

function onCountedResponseClose(this: ProxyResponse): void {
  if (this.counter !== null) this.counter.requestsInFlight--;
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
