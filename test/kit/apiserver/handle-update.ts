// PUT of an object or its status/finalize subresource.
import type { ResourceRequest, ServerParts } from './handler-context.js';
import { sendJson } from './http-io.js';
import { checkTypeMeta } from './type-meta.js';
import { readObjectBody, setWarnings, writeOptions } from './write-params.js';
import { presentObject } from './handle-read.js';

export async function handleUpdate(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const options = { ...writeOptions(r), warnings: [] as string[] };
  const body = await readObjectBody(parts, r, d.kind);
  const obj = checkTypeMeta(d, body);
  const updated = parts.writer.update(d, r.namespace, r.name!, obj, { ...options, subresource: r.subresource });
  setWarnings(r, options.warnings);
  sendJson(r.res, 200, presentObject(d, updated));
}
