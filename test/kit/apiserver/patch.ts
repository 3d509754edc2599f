// The three patch types a kube-apiserver accepts (RFC 7386 merge patch, RFC 6902 JSON patch and
// Kubernetes' strategic merge patch), as pure functions: inputs are never mutated.
import { isDeepStrictEqual } from 'node:util';

export class PatchError extends Error {
  override name = 'PatchError';
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return value === undefined ? value : (structuredClone(value) as T);
}

function goTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

// ---------------------------------------------------------------- RFC 7386 JSON merge patch

export function applyJsonMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyJsonMergePatch(result[key], value);
  }
  // Untouched members are shared with `target` above; clone so callers can mutate the result freely.
  return clone(result);
}

// ---------------------------------------------------------------- RFC 6902 JSON patch

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw new PatchError(`JSON patch path must be a string, got ${goTypeName(pointer)}`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`JSON pointer must be empty or start with a "/": ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(segment: string, length: number, allowEnd: boolean, pointer: string): number {
  if (allowEnd && segment === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(segment)) throw new PatchError(`invalid array index ${JSON.stringify(segment)} in path ${JSON.stringify(pointer)}`);
  const index = Number(segment);
  if (index > (allowEnd ? length : length - 1)) throw new PatchError(`index out of bounds in path ${JSON.stringify(pointer)}`);
  return index;
}

/** The container holding the pointer's last segment, or a PatchError naming the missing path. */
function parentOf(doc: unknown, segments: string[], pointer: string): unknown {
  let current = doc;
  for (const segment of segments.slice(0, -1)) {
    if (Array.isArray(current)) current = current[arrayIndex(segment, current.length, false, pointer)];
    else if (isObject(current) && Object.prototype.hasOwnProperty.call(current, segment)) current = current[segment];
    else throw new PatchError(`doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  }
  if (!Array.isArray(current) && !isObject(current)) throw new PatchError(`doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  return current;
}

function getAt(doc: unknown, pointer: string): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return doc;
  const parent = parentOf(doc, segments, pointer);
  const last = segments[segments.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false, pointer)];
  const obj = parent as JsonObject;
  if (!Object.prototype.hasOwnProperty.call(obj, last)) throw new PatchError(`doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  return obj[last];
}

function addAt(doc: unknown, pointer: string, value: unknown): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return value;
  const parent = parentOf(doc, segments, pointer);
  const last = segments[segments.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, pointer), 0, value);
  else (parent as JsonObject)[last] = value;
  return doc;
}

function removeAt(doc: unknown, pointer: string): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) throw new PatchError('unable to remove the whole document');
  const parent = parentOf(doc, segments, pointer);
  const last = segments[segments.length - 1]!;
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(last, parent.length, false, pointer), 1);
  } else {
    const obj = parent as JsonObject;
    if (!Object.prototype.hasOwnProperty.call(obj, last)) throw new PatchError(`unable to remove nonexistent key: ${last}: missing value`);
    delete obj[last];
  }
  return doc;
}

function replaceAt(doc: unknown, pointer: string, value: unknown): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return value;
  const parent = parentOf(doc, segments, pointer);
  const last = segments[segments.length - 1]!;
  if (Array.isArray(parent)) {
    parent[arrayIndex(last, parent.length, false, pointer)] = value;
  } else {
    const obj = parent as JsonObject;
    if (!Object.prototype.hasOwnProperty.call(obj, last)) throw new PatchError(`replace operation does not apply: doc is missing key: ${pointer}: missing value`);
    obj[last] = value;
  }
  return doc;
}

export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) {
    throw new PatchError(`json: cannot unmarshal ${goTypeName(operations)} into Go value of type jsonpatch.Patch`);
  }
  let doc = clone(target);
  for (const operation of operations) {
    if (!isObject(operation)) throw new PatchError(`json: cannot unmarshal ${goTypeName(operation)} into Go value of type jsonpatch.Operation`);
    const op = operation['op'];
    const path = operation['path'] as string;
    const needsValue = op === 'add' || op === 'replace' || op === 'test';
    if (needsValue && !Object.prototype.hasOwnProperty.call(operation, 'value')) {
      throw new PatchError(`${String(op)} operation is missing value for path ${JSON.stringify(path)}`);
    }
    const value = clone(operation['value']);
    switch (op) {
      case 'add': doc = addAt(doc, path, value); break;
      case 'remove': doc = removeAt(doc, path); break;
      case 'replace': doc = replaceAt(doc, path, value); break;
      case 'move': {
        const from = operation['from'] as string;
        if (typeof path === 'string' && typeof from === 'string' && path.startsWith(`${from}/`)) {
          throw new PatchError(`cannot move ${JSON.stringify(from)} into its own child ${JSON.stringify(path)}`);
        }
        const moved = getAt(doc, from);
        doc = removeAt(doc, from);
        doc = addAt(doc, path, moved);
        break;
      }
      case 'copy': doc = addAt(doc, path, clone(getAt(doc, operation['from'] as string))); break;
      case 'test': {
        let actual: unknown;
        try {
          actual = getAt(doc, path);
        } catch (err) {
          if (!(err instanceof PatchError)) throw err;
          throw new PatchError(`testing value ${path} failed: ${err.message}`);
        }
        if (!isDeepStrictEqual(actual, value)) throw new PatchError(`testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}

// ---------------------------------------------------------------- strategic merge patch

/**
 * How a list field is patched, from the `patchStrategy`/`patchMergeKey` struct tags of the
 * Kubernetes Go types. Lists not listed here are replaced whole (the default).
 */
interface ListStrategy {
  mergeKey?: string; // absent = list of scalars merged as a set
}

const objectMetaLists: Record<string, ListStrategy> = {
  'metadata.ownerReferences': { mergeKey: 'uid' },
  'metadata.finalizers': {},
};

function podSpecLists(prefix: string): Record<string, ListStrategy> {
  return {
    ...containerLists(`${prefix}.containers`),
    ...containerLists(`${prefix}.initContainers`),
    ...containerLists(`${prefix}.ephemeralContainers`),
    [`${prefix}.volumes`]: { mergeKey: 'name' },
    [`${prefix}.imagePullSecrets`]: { mergeKey: 'name' },
    [`${prefix}.hostAliases`]: { mergeKey: 'ip' },
    [`${prefix}.topologySpreadConstraints`]: { mergeKey: 'topologyKey' },
    [`${prefix}.resourceClaims`]: { mergeKey: 'name' },
    [`${prefix}.schedulingGates`]: { mergeKey: 'name' },
  };
}

function containerLists(prefix: string): Record<string, ListStrategy> {
  return {
    [prefix]: { mergeKey: 'name' },
    [`${prefix}.ports`]: { mergeKey: 'containerPort' },
    [`${prefix}.env`]: { mergeKey: 'name' },
    [`${prefix}.volumeMounts`]: { mergeKey: 'mountPath' },
    [`${prefix}.volumeDevices`]: { mergeKey: 'devicePath' },
  };
}

const listStrategiesByKind: Record<string, Record<string, ListStrategy>> = {
  Pod: {
    ...containerLists('spec.containers'),
    ...containerLists('spec.initContainers'),
    ...containerLists('spec.ephemeralContainers'),
    'spec.volumes': { mergeKey: 'name' },
    'spec.imagePullSecrets': { mergeKey: 'name' },
    'spec.hostAliases': { mergeKey: 'ip' },
    'spec.topologySpreadConstraints': { mergeKey: 'topologyKey' },
    'spec.resourceClaims': { mergeKey: 'name' },
    'spec.schedulingGates': { mergeKey: 'name' },
    'status.conditions': { mergeKey: 'type' },
    'status.podIPs': { mergeKey: 'ip' },
  },
  Node: {
    'spec.podCIDRs': {},
    'status.conditions': { mergeKey: 'type' },
    'status.addresses': { mergeKey: 'type' },
  },
  Service: {
    'spec.ports': { mergeKey: 'port' },
    'status.conditions': { mergeKey: 'type' },
  },
  Namespace: {
    'status.conditions': { mergeKey: 'type' },
  },
  ServiceAccount: {
    secrets: { mergeKey: 'name' },
  },
  DaemonSet: {
    ...podSpecLists('spec.template.spec'),
    'spec.template.metadata.ownerReferences': { mergeKey: 'uid' },
    'spec.template.metadata.finalizers': {},
    'status.conditions': { mergeKey: 'type' },
  },
  Deployment: {
    ...podSpecLists('spec.template.spec'),
    'spec.template.metadata.ownerReferences': { mergeKey: 'uid' },
    'spec.template.metadata.finalizers': {},
    'status.conditions': { mergeKey: 'type' },
  },
};

const builtinKinds = new Set([
  'Namespace', 'Node', 'Pod', 'Service', 'ServiceAccount', 'Secret', 'ConfigMap', 'Endpoints', 'Event',
  'EndpointSlice', 'Lease', 'CustomResourceDefinition', 'TokenReview', 'Binding',
  'DaemonSet', 'Deployment', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding',
]);

/** Built-in kinds take strategic merge patches; custom resources answer 415 like a real server. */
export function supportsStrategicMerge(kind: string): boolean {
  return builtinKinds.has(kind);
}

function listStrategy(kind: string, path: string): ListStrategy | undefined {
  return objectMetaLists[path] ?? listStrategiesByKind[kind]?.[path];
}

const deleteMarker = Symbol('delete');
const setElementOrderPrefix = '$setElementOrder/';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList/';

function isDirectiveKey(key: string): boolean {
  return key === '$patch' || key === '$retainKeys' || key.startsWith(setElementOrderPrefix) || key.startsWith(deleteFromPrimitiveListPrefix);
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * The list order a real server produces (strategic merge's normalizeElementOrder): items named in
 * `patchOrder` (the patch list, or its `$setElementOrder`) come in that order, and the items only
 * the server had are slotted in between them where the live list had them.
 */
function normalizeElementOrder(merged: unknown[], patchOrder: unknown[], serverOrder: unknown[], keyOf: (item: unknown) => unknown): unknown[] {
  const indexIn = (list: unknown[], item: unknown): number => {
    const key = keyOf(item);
    return list.findIndex((candidate) => isDeepStrictEqual(keyOf(candidate), key));
  };
  const byOrder = (list: unknown[], order: unknown[]): unknown[] =>
    list.map((item, i) => ({ item, i, at: indexIn(order, item) }))
      .sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : 0) || a.i - b.i)
      .map((e) => e.item);
  const patchItems = byOrder(merged.filter((item) => indexIn(patchOrder, item) >= 0), patchOrder);
  const serverOnly = byOrder(merged.filter((item) => indexIn(patchOrder, item) < 0), serverOrder);
  const result: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < patchItems.length) {
    if (j >= patchItems.length) {
      result.push(serverOnly[i++]);
    } else if (i >= serverOnly.length) {
      result.push(patchItems[j++]);
    } else {
      const li = indexIn(serverOrder, serverOnly[i]);
      const ri = indexIn(serverOrder, patchItems[j]);
      if (li >= 0 && ri >= 0 && li < ri) result.push(serverOnly[i++]);
      else result.push(patchItems[j++]);
    }
  }
  return result;
}

class StrategicMerger {
  constructor(private readonly kind: string) {}

  mergeMap(original: unknown, patch: JsonObject, path: string): JsonObject | typeof deleteMarker {
    const directive = patch['$patch'];
    if (directive === 'delete') return deleteMarker;
    if (directive === 'replace') {
      const replacement = this.mergeMap(undefined, Object.fromEntries(Object.entries(patch).filter(([k]) => k !== '$patch')), path);
      return replacement;
    }
    if (directive !== undefined && directive !== 'merge') throw new PatchError(`Unknown patch directive: ${String(directive)}`);

    const result: JsonObject = isObject(original) ? { ...original } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (!key.startsWith(deleteFromPrimitiveListPrefix)) continue;
      const field = key.slice(deleteFromPrimitiveListPrefix.length);
      if (!Array.isArray(value)) throw new PatchError(`${key} must be a list`);
      const current = result[field];
      if (Array.isArray(current)) result[field] = current.filter((item) => !value.some((v) => isDeepStrictEqual(v, item)));
    }
    const orders = new Map<string, unknown[]>();
    for (const [key, order] of Object.entries(patch)) {
      if (!key.startsWith(setElementOrderPrefix)) continue;
      if (!Array.isArray(order)) throw new PatchError(`${key} must be a list`);
      orders.set(key.slice(setElementOrderPrefix.length), order);
    }
    for (const [key, value] of Object.entries(patch)) {
      if (isDirectiveKey(key)) continue;
      if (value === null) {
        delete result[key];
        continue;
      }
      const fieldPath = childPath(path, key);
      if (isObject(value)) {
        const merged = this.mergeMap(result[key], value, fieldPath);
        if (merged === deleteMarker) delete result[key];
        else result[key] = merged;
      } else if (Array.isArray(value)) {
        result[key] = this.mergeList(result[key], value, fieldPath, orders.get(key));
      } else {
        result[key] = clone(value);
      }
    }
    // A `$setElementOrder` without its list in the patch only reorders what the server has.
    for (const [field, order] of orders) {
      if (Object.prototype.hasOwnProperty.call(patch, field)) continue;
      const current = result[field];
      if (Array.isArray(current) && listStrategy(this.kind, childPath(path, field)) !== undefined) {
        result[field] = this.mergeList(current, [], childPath(path, field), order);
      }
    }
    const retainKeys = patch['$retainKeys'];
    if (retainKeys !== undefined) {
      if (!Array.isArray(retainKeys)) throw new PatchError('$retainKeys must be a list of field names');
      for (const key of Object.keys(result)) if (!retainKeys.includes(key)) delete result[key];
    }
    // Untouched members are still shared with the target; the caller clones the final result once.
    return result;
  }

  mergeList(original: unknown, patch: unknown[], path: string, elementOrder?: unknown[]): unknown[] {
    const strategy = listStrategy(this.kind, path);
    const replaceItem = patch.findIndex((item) => isObject(item) && item['$patch'] === 'replace');
    if (strategy === undefined || replaceItem >= 0) {
      const items = patch.filter((_, i) => i !== replaceItem);
      return items.map((item) => (isObject(item) ? this.stripped(item, path) : clone(item)));
    }
    const serverOrder: unknown[] = Array.isArray(original) ? original : [];
    const merged: unknown[] = clone(serverOrder);
    const mergeKey = strategy.mergeKey;
    if (mergeKey === undefined) {
      // patchStrategy=merge on a list of scalars: a set union.
      for (const item of patch) {
        if (isObject(item)) throw new PatchError(`${path}: a list of scalars cannot take the patch item ${JSON.stringify(item)}`);
        if (!merged.some((r) => isDeepStrictEqual(r, item))) merged.push(clone(item));
      }
      return normalizeElementOrder(merged, elementOrder ?? patch, serverOrder, (item) => item);
    }
    const patchItems: unknown[] = [];
    for (const item of patch) {
      if (!isObject(item)) throw new PatchError(`${path}: expected a map with merge key ${mergeKey}, got ${JSON.stringify(item)}`);
      const key = item[mergeKey];
      if (key === undefined) throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
      const matches = (r: unknown): boolean => isObject(r) && isDeepStrictEqual(r[mergeKey], key);
      if (item['$patch'] === 'delete') {
        for (let i = merged.length - 1; i >= 0; i--) if (matches(merged[i])) merged.splice(i, 1);
        continue;
      }
      patchItems.push(item);
      const index = merged.findIndex(matches);
      const result = this.mergeMap(index >= 0 ? merged[index] : undefined, item, path);
      if (result === deleteMarker) {
        if (index >= 0) merged.splice(index, 1);
      } else if (index >= 0) {
        merged[index] = result;
      } else {
        merged.push(result);
      }
    }
    const keyOf = (item: unknown): unknown => (isObject(item) ? item[mergeKey] : undefined);
    return normalizeElementOrder(merged, elementOrder ?? patchItems, serverOrder, keyOf);
  }

  /** A patch map used as a value in its own right: directives applied, nulls dropped. */
  private stripped(item: JsonObject, path: string): unknown {
    const merged = this.mergeMap(undefined, item, path);
    return merged === deleteMarker ? {} : merged;
  }
}

/**
 * Kubernetes' strategic merge patch for built-in `kind`s: maps merge recursively, `null`
 * deletes, lists are replaced unless the Go type tags them `patchStrategy:"merge"` (then merged
 * by `patchMergeKey`, or as a set of scalars), with the `$patch`, `$retainKeys`,
 * `$deleteFromPrimitiveList/` and `$setElementOrder/` directives kubectl sends.
 */
export function applyStrategicMergePatch(target: unknown, patch: unknown, kind: string): unknown {
  if (!isObject(patch)) {
    throw new PatchError(`json: cannot unmarshal ${goTypeName(patch)} into Go value of type map[string]interface {}`);
  }
  const merged = new StrategicMerger(kind).mergeMap(isObject(target) ? target : {}, patch, '');
  if (merged === deleteMarker) throw new PatchError('a strategic merge patch cannot delete the whole object');
  return clone(merged);
}
