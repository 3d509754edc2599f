// POST to a collection: create an object.
import type { ResourceRequest, ServerParts } from './handler-context.js';
import { sendJson } from './http-io.js';
import { checkTypeMeta } from './type-meta.js';
import { readObjectBody, setWarnings, writeOptions } from './write-params.js';
import { presentObject } from './handle-read.js';

export async function handleCreate(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const options = { ...writeOptions(r), warnings: [] as string[] };
  const body = await readObjectBody(parts, r, d.kind);
  const obj = checkTypeMeta(d, body);
  const created = parts.writer.create(d, r.namespace, obj, options);
  setWarnings(r, options.warnings);
  sendJson(r.res, 201, presentObject(d, created));
}
