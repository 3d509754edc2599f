// GET of one object, list (with selectors, limit/continue) and watch.
import type { KubeObject } from './kube-object.js';
import { deepClone } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { apiVersionOf, storageKeyOf } from './resource-registry.js';
import type { ResourceRequest, ServerParts } from './handler-context.js';
import { sendJson } from './http-io.js';
import { statusErrors } from './status-errors.js';
import { isTrue, parseSelectors } from './list-query.js';
import { toTable, wantsTable } from './table-output.js';

/** How clients see a stored object through one served version. */
export function presentObject(d: ResourceDescriptor, obj: KubeObject): KubeObject {
  const out = deepClone(obj);
  out.apiVersion = apiVersionOf(d);
  return out;
}

export function handleGet(parts: ServerParts, r: ResourceRequest): void {
  const d = r.descriptor;
  const obj = parts.store.get(storageKeyOf(d), r.namespace, r.name!);
  if (!obj) throw statusErrors.notFound(d, r.name!);
  if (wantsTable(r.req)) {
    sendJson(r.res, 200, toTable(d, [presentObject(d, obj)], { resourceVersion: obj.metadata.resourceVersion }, r.query.get('includeObject')));
    return;
  }
  sendJson(r.res, 200, presentObject(d, obj));
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'weft.continue/1', ...token })).toString('base64url');
}

function decodeContinue(text: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (parsed?.v === 'weft.continue/1' && Number.isInteger(parsed.rv) && typeof parsed.start === 'string') return { rv: parsed.rv, start: parsed.start };
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  throw statusErrors.badRequest('continue key is not valid: invalid continue token');
}

function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
}

export function handleList(parts: ServerParts, r: ResourceRequest): void {
  const d = r.descriptor;
  const filter = parseSelectors(d, r.query, r.namespace);
  if (isTrue(r.query.get('watch'))) {
    const timeout = r.query.get('timeoutSeconds');
    parts.watches.serve(r.res, {
      descriptor: d,
      filter,
      resourceVersion: r.query.get('resourceVersion') ?? '',
      allowBookmarks: isTrue(r.query.get('allowWatchBookmarks')),
      timeoutSeconds: timeout !== null && Number(timeout) > 0 ? Number(timeout) : undefined,
      asTable: wantsTable(r.req) ? (obj) => toTable(d, [obj], { resourceVersion: obj.metadata.resourceVersion }, r.query.get('includeObject')) : undefined,
    });
    return;
  }
  const limitText = r.query.get('limit');
  const limit = limitText !== null && Number(limitText) > 0 ? Math.floor(Number(limitText)) : undefined;
  const continueText = r.query.get('continue');
  let listRv = parts.store.resourceVersion;
  let startAfter: string | undefined;
  if (continueText) {
    const token = decodeContinue(continueText);
    if (token.rv < parts.store.oldestResumableRv) {
      throw statusErrors.expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
    }
    listRv = token.rv;
    startAfter = token.start;
  }
  let matching = parts.store.list(storageKeyOf(d), r.namespace).filter(filter);
  if (startAfter !== undefined) matching = matching.filter((o) => keyOf(o) > startAfter!);
  const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
  if (limit !== undefined && matching.length > limit) {
    const remaining = matching.length - limit;
    matching = matching.slice(0, limit);
    metadata.continue = encodeContinue({ rv: listRv, start: keyOf(matching[matching.length - 1]!) });
    metadata.remainingItemCount = remaining;
  }
  if (wantsTable(r.req)) {
    sendJson(r.res, 200, toTable(d, matching.map((o) => presentObject(d, o)), metadata, r.query.get('includeObject')));
    return;
  }
  const items = matching.map((obj) => {
    const out = presentObject(d, obj);
    // Typed lists of built-in kinds omit each item's kind/apiVersion, as real servers do.
    if (!d.custom) {
      delete out.kind;
      delete out.apiVersion;
    }
    return out;
  });
  sendJson(r.res, 200, { kind: d.listKind, apiVersion: apiVersionOf(d), metadata, items });
}
