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
import { appliedConfiguration, AppliedConfigurations, mergeApplied } from './server-side-apply.js';

const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const appliedConfigurations = new AppliedConfigurations();

export async function handlePatch(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const mediaType = mediaTypeOf(r.req);
  if (mediaType === 'application/apply-patch+yaml') return handleApply(parts, r);
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

/** PATCH with application/apply-patch+yaml: a simplified server-side apply (see server-side-apply.ts). */
async function handleApply(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const manager = r.query.get('fieldManager');
  if (!manager) {
    r.req.resume();
    throw statusErrors.badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply requests');
  }
  const options = { ...writeOptions(r), warnings: [] as string[] };
  const body = decodeBody(await readBody(r.req, parts.maxBodyBytes), 'application/apply-patch+yaml', d.kind);
  if (!isPlainObject(body) || !body.apiVersion || !body.kind) {
    throw statusErrors.badRequest('apply patches must carry apiVersion and kind');
  }
  const applied = appliedConfiguration(checkTypeMeta(d, body));
  if (applied.metadata.name !== undefined && applied.metadata.name !== r.name) {
    throw statusErrors.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${r.name})`);
  }
  const existing = parts.store.get(storageKeyOf(d), r.namespace, r.name!);
  if (!existing) {
    if (r.subresource !== undefined) throw statusErrors.notFound(d, r.name!);
    const created = parts.writer.create(d, r.namespace, { ...applied, metadata: { ...applied.metadata, name: r.name } }, options);
    if (!options.dryRun) appliedConfigurations.set(created.metadata.uid!, manager, applied);
    setWarnings(r, options.warnings);
    sendJson(r.res, 201, presentObject(d, created));
    return;
  }
  const previous = appliedConfigurations.get(existing.metadata.uid!, manager);
  const merged = mergeApplied(d, presentObject(d, existing), applied, previous);
  const updated = parts.writer.update(d, r.namespace, r.name!, merged, { ...options, subresource: r.subresource });
  if (!options.dryRun) appliedConfigurations.set(existing.metadata.uid!, manager, applied);
  setWarnings(r, options.warnings);
  sendJson(r.res, 200, presentObject(d, updated));
}
