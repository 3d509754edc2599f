// Query parameters every write shares (dryRun, fieldValidation) and body decoding for writes.
import type { ResourceRequest, ServerParts } from './handler-context.js';
import type { FieldValidation, WriteOptions } from './resource-writer.js';
import { decodeBody, mediaTypeOf, readBody } from './request-body.js';
import { statusErrors } from './status-errors.js';
import { decodeKubeProtobuf, protobufMediaType, UnsupportedProtobufError } from './kube-protobuf.js';
import { ProtobufError } from './protobuf-wire.js';

export function writeOptions(r: ResourceRequest): WriteOptions {
  const dryRun = r.query.getAll('dryRun');
  for (const v of dryRun) if (v !== 'All') throw statusErrors.badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  const fv = r.query.get('fieldValidation');
  if (fv !== null && fv !== '' && fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw statusErrors.badRequest(`fieldValidation: Unsupported value: "${fv}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return { dryRun: dryRun.length > 0, fieldValidation: (fv || undefined) as FieldValidation | undefined, requester: r.user };
}

const objectMediaTypes = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'application/vnd.kubernetes.protobuf', ''];

/** The body of a create or update: a JSON or YAML object. */
export async function readObjectBody(parts: ServerParts, r: ResourceRequest, expectedKind: string): Promise<unknown> {
  const mediaType = mediaTypeOf(r.req);
  if (!objectMediaTypes.includes(mediaType)) {
    r.req.resume();
    throw statusErrors.unsupportedMediaType(mediaType, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
  }
  const body = await readBody(r.req, parts.maxBodyBytes);
  if (mediaType === protobufMediaType) return decodeProtobufBody(body, expectedKind);
  return decodeBody(body, mediaType, expectedKind);
}

/** A protobuf body (kubectl's generators, helm's DeleteOptions) as the JSON object it stands for. */
export function decodeProtobufBody(body: Buffer, expectedKind: string): unknown {
  try {
    return decodeKubeProtobuf(body).object;
  } catch (err) {
    if (err instanceof UnsupportedProtobufError) {
      throw statusErrors.unsupportedMediaType(protobufMediaType, ['application/json', 'application/yaml']);
    }
    if (err instanceof ProtobufError) {
      throw statusErrors.badRequest(`the object provided is unrecognized (must be of type ${expectedKind}): ${err.message}`);
    }
    throw err;
  }
}

/** Warnings travel in `Warning: 299 - "<text>"` headers, which kubectl prints. */
export function setWarnings(r: ResourceRequest, warnings: string[]): void {
  if (warnings.length === 0 || r.res.headersSent) return;
  r.res.setHeader('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`));
}
