// Reading and decoding request bodies: a size limit (413), JSON or YAML by content type, and the
// 400 messages real servers give for malformed input.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { statusErrors } from './status-errors.js';

export function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Reads the whole body, refusing (413) once it passes `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) {
    req.resume(); // drain so the connection can answer
    throw statusErrors.requestEntityTooLarge(maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      req.resume();
      throw statusErrors.requestEntityTooLarge(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function snippet(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

function isYaml(mediaType: string): boolean {
  return mediaType === 'application/yaml' || mediaType === 'application/x-yaml' || mediaType === 'text/yaml' || mediaType === 'application/apply-patch+yaml';
}

/**
 * Decodes a body as JSON (default) or YAML. `expectedKind` only shapes the error message the way
 * real servers word it ("must be of type Pod").
 */
export function decodeBody(body: Buffer, mediaType: string, expectedKind: string): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') {
    throw statusErrors.badRequest(`the object provided is unrecognized (must be of type ${expectedKind}): couldn't get version/kind; json parse error: unexpected end of JSON input`);
  }
  if (isYaml(mediaType)) {
    try {
      return parseYaml(text, { maxAliasCount: 100 });
    } catch (err) {
      throw statusErrors.badRequest(`error converting YAML to JSON: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = jsonErrorText(err as Error, text);
    throw statusErrors.badRequest(`the object provided is unrecognized (must be of type ${expectedKind}): couldn't get version/kind; json parse error: ${detail} (${snippet(text)})`);
  }
}

/** Node's JSON.parse messages, worded like Go's encoding/json ones real servers quote. */
function jsonErrorText(err: Error, text: string): string {
  const m = err.message;
  if (/Unexpected end of JSON input/i.test(m)) return 'unexpected end of JSON input';
  const position = /at position (\d+)/.exec(m);
  const offending = position ? text.charAt(Number(position[1])) : /Unexpected token '?(.)'?/.exec(m)?.[1];
  if (offending) return `invalid character '${offending}' looking for beginning of value`;
  return m.charAt(0).toLowerCase() + m.slice(1);
}
