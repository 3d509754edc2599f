// The authorization attributes of a resource request, derived as kube-apiserver's
// RequestInfoFactory derives them: the verb from the method (watch/list/get for reads), the
// namespace of a Namespace being its own name, and a list or watch narrowed to one object by
// `fieldSelector=metadata.name=X` carrying that name (so resourceNames rules can allow it).
import type { RequestAttributes } from './authorization.js';
import { resourceVerb } from './authorization.js';
import type { ResourceTarget } from './request-target.js';
import { isValidPathSegmentName } from './name-validation.js';

/** The name an exact `metadata.name` field selector requires, if any. */
function fieldSelectorName(fieldSelector: string | null): string | undefined {
  if (!fieldSelector) return undefined;
  for (const term of fieldSelector.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    if (m && !term.includes('!=')) return m[1];
  }
  return undefined;
}

export function resourceAttributes(target: ResourceTarget, method: string, query: URLSearchParams, watching: boolean): RequestAttributes {
  const isRead = method === 'GET' || method === 'HEAD';
  const hasName = target.name !== undefined && !(watching && isRead);
  // A POST to a named subresource (serviceaccounts/token) is a create, as for any POST.
  const verb = resourceVerb(method, hasName, watching);
  let name = target.name;
  if (name === undefined && (verb === 'list' || verb === 'watch')) {
    const selected = fieldSelectorName(query.get('fieldSelector'));
    if (selected !== undefined && isValidPathSegmentName(selected).length === 0 && selected !== '') name = selected;
  }
  let namespace = target.namespace;
  if (target.group === '' && target.plural === 'namespaces' && target.name !== undefined) namespace = target.name;
  return {
    kind: 'resource', verb, group: target.group, version: target.version, resource: target.plural,
    subresource: target.subresource, namespace, name,
  };
}
