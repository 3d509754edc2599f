// May this user do this? The request attributes kube-apiserver's authorizers see (verb, group,
// resource, namespace, name or a non-resource path), and how a denial is worded. The server's
// default authorizer is RBAC (rbac-authorizer.ts); AllowAllAuthorizer is for tests that want none.
import type { UserInfo } from './authentication.js';

export type ResourceVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/**
 * `verb` is a ResourceVerb for resource requests of the usual methods; other methods get their
 * lower-cased name, as RequestInfo does. Non-resource verbs are lower-cased methods ("get").
 */
export type RequestAttributes =
  | { kind: 'resource'; verb: string; group: string; version: string; resource: string; subresource?: string; namespace?: string; name?: string }
  | { kind: 'non-resource'; verb: string; path: string };

/** `reason` says why (RBAC names the binding that allowed); access reviews report it. */
export type Decision = { allowed: true; reason?: string } | { allowed: false; reason: string };

export interface Authorizer {
  authorize(user: UserInfo, attributes: RequestAttributes): Decision | Promise<Decision>;
}

export class AllowAllAuthorizer implements Authorizer {
  authorize(): Decision {
    return { allowed: true };
  }
}

/** The verb of a resource request, as RBAC names it (RequestInfoFactory's mapping). */
export function resourceVerb(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD': return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return hasName ? 'delete' : 'deletecollection';
    default: return method.toLowerCase();
  }
}

/** The `User "..." cannot ...` part of a 403, as kube-apiserver's forbiddenMessage words it. */
export function forbiddenMessage(username: string, attributes: RequestAttributes): string {
  // The real server HTML-escapes these three so a 403 cannot smuggle markup into a browser.
  return unsanitized(username, attributes).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unsanitized(username: string, attributes: RequestAttributes): string {
  if (attributes.kind === 'non-resource') return `User ${JSON.stringify(username)} cannot ${attributes.verb} path ${JSON.stringify(attributes.path)}`;
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  const where = attributes.namespace ? `in the namespace ${JSON.stringify(attributes.namespace)}` : 'at the cluster scope';
  return `User ${JSON.stringify(username)} cannot ${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.group)} ${where}`;
}
