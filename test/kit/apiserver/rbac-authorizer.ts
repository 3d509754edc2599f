// The server's default authorizer: kube-apiserver's `--authorization-mode=RBAC` plus its
// privileged-group shortcut. Members of `system:masters` may do everything (the admin token);
// everyone else gets what the Roles and ClusterRoles bound to them grant. Bindings and roles are
// read from the store on every request, so a binding written is in force at the next request.
import type { UserInfo } from './authentication.js';
import type { Authorizer, Decision, RequestAttributes } from './authorization.js';
import type { KubeObject } from './kube-object.js';
import type { ObjectStore } from './store.js';
import { ruleAllows, type PolicyRule } from './rbac-rules.js';
import { rbacGroup } from './rbac-validation.js';

export const privilegedGroup = 'system:masters';

const keys = {
  roles: `${rbacGroup}/roles`,
  clusterRoles: `${rbacGroup}/clusterroles`,
  roleBindings: `${rbacGroup}/rolebindings`,
  clusterRoleBindings: `${rbacGroup}/clusterrolebindings`,
};

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface RoleRef {
  kind?: string;
  name?: string;
}

/** Rules of the role a binding names, or the error a real server's rule resolver reports. */
export type Resolution = { rules: PolicyRule[] } | { error: string };

/**
 * Does the binding name this user? ServiceAccount subjects without a namespace mean the
 * binding's own namespace (RoleBindings only), as rbac's appliesToUser has it.
 */
function appliesTo(user: UserInfo, subjects: unknown, bindingNamespace: string): Subject | undefined {
  if (!Array.isArray(subjects)) return undefined;
  return subjects.find((raw: Subject) => {
    switch (raw?.kind) {
      case 'User': return user.username === raw.name;
      case 'Group': return typeof raw.name === 'string' && user.groups.includes(raw.name);
      case 'ServiceAccount': {
        const namespace = raw.namespace || bindingNamespace;
        return namespace !== '' && user.username === `system:serviceaccount:${namespace}:${raw.name}`;
      }
      default: return false;
    }
  });
}

/** How rbac's describeSubject names a subject: ServiceAccounts as "name/namespace". */
function describeSubject(subject: Subject, bindingNamespace: string): string {
  if (subject.kind === 'ServiceAccount') return `ServiceAccount ${JSON.stringify(`${subject.name ?? ''}/${subject.namespace || bindingNamespace}`)}`;
  return `${subject.kind} ${JSON.stringify(subject.name ?? '')}`;
}

/** The reason an allowed request carries: `RBAC: allowed by RoleBinding "b/ns" of Role "r" to ...`. */
function allowedBy(binding: KubeObject, bindingNamespace: string, subject: Subject): string {
  const ref = ((binding as Record<string, unknown>).roleRef ?? {}) as RoleRef;
  const what = bindingNamespace === ''
    ? `ClusterRoleBinding ${JSON.stringify(binding.metadata.name ?? '')}`
    : `RoleBinding ${JSON.stringify(`${binding.metadata.name ?? ''}/${bindingNamespace}`)}`;
  return `RBAC: allowed by ${what} of ${ref.kind ?? ''} ${JSON.stringify(ref.name ?? '')} to ${describeSubject(subject, bindingNamespace)}`;
}

/** utilerrors.NewAggregate(...).Error(): one message alone, several in brackets, repeats dropped. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

export class RbacAuthorizer implements Authorizer {
  constructor(private readonly store: ObjectStore) {}

  authorize(user: UserInfo, attributes: RequestAttributes): Decision {
    if (user.groups.includes(privilegedGroup)) return { allowed: true };
    const errors: string[] = [];
    /** The allow reason when this binding applies to the user and its role allows the request. */
    const allows = (binding: KubeObject, bindingNamespace: string): string | undefined => {
      const subject = appliesTo(user, (binding as Record<string, unknown>).subjects, bindingNamespace);
      if (!subject) return undefined;
      const resolved = this.roleReferenceRules(((binding as Record<string, unknown>).roleRef ?? {}) as RoleRef, bindingNamespace);
      if ('error' in resolved) {
        errors.push(resolved.error);
        return undefined;
      }
      return resolved.rules.some((rule) => ruleAllows(attributes, rule)) ? allowedBy(binding, bindingNamespace, subject) : undefined;
    };
    // ClusterRoleBindings grant everywhere; RoleBindings only in their namespace.
    for (const binding of this.store.list(keys.clusterRoleBindings)) {
      const reason = allows(binding, '');
      if (reason !== undefined) return { allowed: true, reason };
    }
    const namespace = attributes.kind === 'resource' ? attributes.namespace : undefined;
    if (namespace !== undefined && namespace !== '') {
      for (const binding of this.store.list(keys.roleBindings, namespace)) {
        const reason = allows(binding, namespace);
        if (reason !== undefined) return { allowed: true, reason };
      }
    }
    return { allowed: false, reason: errors.length > 0 ? `RBAC: ${aggregate(errors)}` : '' };
  }

  /** Every rule bound to the user in `namespace` (cluster-wide ones included), for rules reviews. */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    const collect = (binding: KubeObject, bindingNamespace: string): void => {
      if (!appliesTo(user, (binding as Record<string, unknown>).subjects, bindingNamespace)) return;
      const resolved = this.roleReferenceRules(((binding as Record<string, unknown>).roleRef ?? {}) as RoleRef, bindingNamespace);
      if ('error' in resolved) errors.push(resolved.error);
      else rules.push(...resolved.rules);
    };
    for (const binding of this.store.list(keys.clusterRoleBindings)) collect(binding, '');
    if (namespace !== '') for (const binding of this.store.list(keys.roleBindings, namespace)) collect(binding, namespace);
    return { rules, errors };
  }

  /** The rules of the Role (in `bindingNamespace`) or ClusterRole a roleRef names. */
  roleReferenceRules(ref: RoleRef, bindingNamespace: string): Resolution {
    const name = ref.name ?? '';
    let role: KubeObject | undefined;
    switch (ref.kind) {
      case 'Role':
        role = this.store.get(keys.roles, bindingNamespace, name);
        if (!role) return { error: `role.${rbacGroup} ${JSON.stringify(name)} not found` };
        break;
      case 'ClusterRole':
        role = this.store.get(keys.clusterRoles, undefined, name);
        if (!role) return { error: `clusterrole.${rbacGroup} ${JSON.stringify(name)} not found` };
        break;
      default:
        return { error: `unsupported role reference kind: ${JSON.stringify(ref.kind ?? '')}` };
    }
    const rules = (role as Record<string, unknown>).rules;
    return { rules: Array.isArray(rules) ? (rules as PolicyRule[]) : [] };
  }
}
