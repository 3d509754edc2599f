// DELETE of one object and of a collection (deletecollection), with DeleteOptions from the
// body or the query (gracePeriodSeconds, propagationPolicy, preconditions, dryRun).
import type { ResourceRequest, ServerParts } from './handler-context.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { apiVersionOf, storageKeyOf } from './resource-registry.js';
import { isPlainObject } from './kube-object.js';
import { sendJson } from './http-io.js';
import { statusErrors, successStatus } from './status-errors.js';
import { decodeBody, mediaTypeOf, readBody } from './request-body.js';
import { protobufMediaType } from './kube-protobuf.js';
import { decodeProtobufBody } from './write-params.js';
import type { DeleteOptions } from './resource-writer.js';
import { parseSelectors } from './list-query.js';
import { presentObject } from './handle-read.js';

const propagationPolicies = ['Orphan', 'Background', 'Foreground'];

interface RequestDeleteOptions extends DeleteOptions {
  orphanDependents?: boolean;
}

async function deleteOptions(parts: ServerParts, r: ResourceRequest): Promise<RequestDeleteOptions> {
  const body = await readBody(r.req, parts.maxBodyBytes);
  let opts: Record<string, any> = {};
  if (body.toString('utf8').trim() !== '') {
    const mediaType = mediaTypeOf(r.req);
    const decoded = mediaType === protobufMediaType ? decodeProtobufBody(body, 'DeleteOptions') : decodeBody(body, mediaType, 'DeleteOptions');
    if (!isPlainObject(decoded)) throw statusErrors.badRequest('the body of a delete must be a DeleteOptions object');
    opts = decoded;
  }
  const graceText = r.query.get('gracePeriodSeconds');
  let grace: number | undefined = opts.gracePeriodSeconds;
  if (graceText !== null && graceText !== '') grace = Number(graceText);
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isFinite(grace))) {
    throw statusErrors.badRequest(`gracePeriodSeconds must be a number, got ${JSON.stringify(graceText ?? opts.gracePeriodSeconds)}`);
  }
  const policy = r.query.get('propagationPolicy') ?? opts.propagationPolicy;
  if (policy !== undefined && policy !== null && !propagationPolicies.includes(policy)) {
    throw statusErrors.badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
  }
  const dryRun = r.query.getAll('dryRun').length > 0 || (Array.isArray(opts.dryRun) && opts.dryRun.length > 0);
  const pre = isPlainObject(opts.preconditions) ? opts.preconditions : {};
  const orphanText = r.query.get('orphanDependents');
  return {
    orphanDependents: orphanText !== null ? orphanText === 'true' : typeof opts.orphanDependents === 'boolean' ? opts.orphanDependents : undefined,
    gracePeriodSeconds: grace,
    dryRun,
    preconditions: {
      uid: typeof pre.uid === 'string' ? pre.uid : undefined,
      resourceVersion: typeof pre.resourceVersion === 'string' ? pre.resourceVersion : undefined,
    },
  };
}

/** Kinds whose registry returns the deleted object rather than a Success Status (as real). */
function returnsDeletedObject(d: ResourceDescriptor): boolean {
  return d.custom !== undefined || (d.group === '' && ['Pod', 'Service', 'ServiceAccount', 'Namespace'].includes(d.kind)) || d.kind === 'CustomResourceDefinition';
}

export async function handleDelete(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const options = await deleteOptions(parts, r);
  const outcome = parts.writer.delete(d, r.namespace, r.name!, options);
  if (d.group === '' && d.kind === 'Pod' && !options.dryRun) {
    // Who ended a pod, and how: a pod removed at once cuts its service-account tokens off.
    parts.log('pod deleted', { pod: `${r.namespace}/${r.name}`, user: r.user.username, gracePeriodSeconds: options.gracePeriodSeconds, removed: outcome.removed });
  }
  // Real servers answer 200 whether the object is gone or only marked (graceful deletion,
  // finalizers, namespaces); 202 is kept for the legacy orphanDependents=false case only.
  const code = options.orphanDependents === false && !outcome.removed ? 202 : 200;
  if (returnsDeletedObject(d) || !outcome.removed) sendJson(r.res, code, presentObject(d, outcome.object));
  else sendJson(r.res, code, successStatus(d, r.name!, outcome.object.metadata.uid));
}

export async function handleDeleteCollection(parts: ServerParts, r: ResourceRequest): Promise<void> {
  const d = r.descriptor;
  const options = await deleteOptions(parts, r);
  const filter = parseSelectors(d, r.query, r.namespace);
  const targets = parts.store.list(storageKeyOf(d), r.namespace).filter(filter);
  const items = [];
  for (const obj of targets) {
    const outcome = parts.writer.delete(d, obj.metadata.namespace, obj.metadata.name!, { gracePeriodSeconds: options.gracePeriodSeconds, dryRun: options.dryRun });
    const item = presentObject(d, outcome.object);
    if (!d.custom) {
      delete item.kind;
      delete item.apiVersion;
    }
    items.push(item);
  }
  sendJson(r.res, 200, { kind: d.listKind, apiVersion: apiVersionOf(d), metadata: { resourceVersion: String(parts.store.resourceVersion) }, items });
}
