// PATCH: JSON merge patch, strategic merge patch (built-in kinds) and JSON patch, applied to
// the stored object and written through the same path as an update.
import type { ResourceRequest, ServerParts } from './handler-context.js';
import type { KubeObject } from './kube-object.js';
import { deepClone, isPlainObject } from './kube-object.js';
import { storageKeyOf } from './resource-registry.js';
import { sendJson } from './http-io.js';
import { statusErrors } from './status-errors.js';
import { decodeBody, mediaTypeOf, readBody } from './request-body.js';
import { applyJsonMergePatch, applyJsonPatch, applyStrategicMergePatch, PatchError, supportsStrategicMerge } from './patch.js';
import { checkTypeMeta } from './type-meta.js';
import { setWarnings, writeOptions } from './write-params.js';
import { presentObject } from './handle-read.js';

const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

export async function handlePatch(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const mediaType = mediaTypeOf(r.req);
  const strategicAllowed = !d.custom && supportsStrategicMerge(d.kind);
  if (!patchTypes.includes(mediaType) || (mediaType === 'application/strategic-merge-patch+json' && !strategicAllowed)) {
    r.req.resume();
    throw statusErrors.unsupportedMediaType(mediaType, strategicAllowed ? patchTypes : patchTypes.filter((t) => !t.includes('strategic')));
  }
  const options = { ...writeOptions(r), warnings: [] as string[] };
  const patch = decodeBody(await readBody(r.req, parts.maxBodyBytes), 'application/json', d.kind);
  const existing = parts.store.get(storageKeyOf(d), r.namespace, r.name!);
  if (!existing) throw statusErrors.notFound(d, r.name!);
  const current = presentObject(d, existing);

  let patched: unknown;
  try {
    if (mediaType === 'application/json-patch+json') patched = applyJsonPatch(current, patch);
    else if (mediaType === 'application/merge-patch+json') patched = applyJsonMergePatch(current, patch);
    else patched = applyStrategicMergePatch(current, patch, d.kind);
  } catch (err) {
    if (!(err instanceof PatchError)) throw err;
    throw statusErrors.badRequest(err.message);
  }
  if (!isPlainObject(patched)) throw statusErrors.badRequest('the patch produced something that is not an object');
  const obj = checkTypeMeta(d, patched) as KubeObject;
  // A patch carries a resourceVersion only when the client asks for the optimistic check.
  const patchRv = isPlainObject(patch) && isPlainObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
  if (typeof patchRv !== 'string' || patchRv === '') obj.metadata.resourceVersion = existing.metadata.resourceVersion;
  const updated = parts.writer.update(d, r.namespace, r.name!, deepClone(obj), { ...options, subresource: r.subresource });
  setWarnings(r, options.warnings);
  sendJson(r.res, 200, presentObject(d, updated));
}
