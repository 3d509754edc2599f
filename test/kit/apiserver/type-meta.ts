// Checks and fills apiVersion/kind of a request body against the resource in the URL, the way
// the real decoder does: missing fields default to the URL's, mismatches are 400s.
import type { KubeObject } from './kube-object.js';
import { isPlainObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { apiVersionOf } from './resource-registry.js';
import { statusErrors } from './status-errors.js';

export function checkTypeMeta(d: ResourceDescriptor, body: unknown, expectedKind: string = d.kind): KubeObject {
  if (!isPlainObject(body)) {
    throw statusErrors.badRequest(`the object provided is unrecognized (must be of type ${expectedKind}): couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  }
  const apiVersion = apiVersionOf(d);
  const obj = body as KubeObject;
  if (obj.apiVersion !== undefined && typeof obj.apiVersion !== 'string') throw statusErrors.badRequest('apiVersion must be a string');
  if (obj.kind !== undefined && typeof obj.kind !== 'string') throw statusErrors.badRequest('kind must be a string');
  if (obj.apiVersion && obj.apiVersion !== apiVersion) {
    throw statusErrors.badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`);
  }
  if (obj.kind && obj.kind !== expectedKind) {
    throw statusErrors.badRequest(`${obj.kind} in version "${d.version}" cannot be handled as a ${expectedKind}: the kind in the data (${obj.kind}) does not match the expected kind (${expectedKind})`);
  }
  if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) {
    throw statusErrors.badRequest(`${expectedKind} in version "${d.version}" cannot be handled as a ${expectedKind}: metadata must be an object`);
  }
  return { ...obj, apiVersion, kind: expectedKind, metadata: { ...(obj.metadata ?? {}) } };
}
