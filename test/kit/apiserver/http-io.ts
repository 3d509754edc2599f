// Writing answers: JSON bodies and Status objects, always with the headers real servers send.
import type { ServerResponse } from 'node:http';
import type { ApiError } from './status-errors.js';

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendStatus(res: ServerResponse, error: ApiError): void {
  if (res.headersSent) {
    // A streaming answer (watch) already started: the stream itself carries errors.
    res.end();
    return;
  }
  sendJson(res, error.code, error.toStatus());
}
