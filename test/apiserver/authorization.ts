// May this user do this? The request attributes kube-apiserver's authorizers see (verb, group,
// resource, namespace, name or a non-resource path). Today every authenticated user may do
// everything (as `system:masters` can); RBAC plugs in here as another Authorizer.
import type { UserInfo } from './authentication.js';

export type ResourceVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export type RequestAttributes =
  | { kind: 'resource'; verb: ResourceVerb; group: string; version: string; resource: string; subresource?: string; namespace?: string; name?: string }
  | { kind: 'non-resource'; verb: 'get'; path: string };

export type Decision = { allowed: true } | { allowed: false; reason: string };

export interface Authorizer {
  authorize(user: UserInfo, attributes: RequestAttributes): Decision | Promise<Decision>;
}

export class AllowAllAuthorizer implements Authorizer {
  authorize(): Decision {
    return { allowed: true };
  }
}

/** The verb of a resource request, as RBAC names it. */
export function resourceVerb(method: string, hasName: boolean, watch: boolean): ResourceVerb | undefined {
  switch (method) {
    case 'GET': return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST': return hasName ? undefined : 'create';
    case 'PUT': return hasName ? 'update' : undefined;
    case 'PATCH': return hasName ? 'patch' : undefined;
    case 'DELETE': return hasName ? 'delete' : 'deletecollection';
    default: return undefined;
  }
}
