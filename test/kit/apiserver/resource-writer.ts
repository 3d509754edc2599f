// The write path every create, update and delete goes through (HTTP handlers and the built-in
// controllers alike): server-set metadata, defaults, validation, optimistic concurrency,
// generation, graceful deletion and finalizers - the semantics clients rely on.
import { randomUUID } from 'node:crypto';
import type { KubeObject } from './kube-object.js';
import { deepClone, isPlainObject, jsonEqual, kubeTimestamp } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import type { UserInfo } from './authentication.js';
import { storageKeyOf } from './resource-registry.js';
import type { ObjectStore } from './store.js';
import { statusErrors } from './status-errors.js';
import { applyCreateDefaults, applyUpdateDefaults } from './defaults.js';
import { invalidMessage, validateBuiltin, validateObjectMeta } from './object-validation.js';
import type { FieldCause } from './schema-validation.js';
import { pruneAndDefault, validateCustomResource } from './custom-resource-schema.js';
import type { ClusterIpAllocator } from './cluster-ip-allocator.js';
import { ServiceIpAdmission, isCoreService } from './service-ip-admission.js';
import { bumpGeneration, mergeForUpdate } from './update-strategy.js';
import { validateCrdSpec } from './crd-spec.js';
import { validatePodUpdate } from './pod-update-rules.js';
import { BuiltinFieldPruner } from './builtin-field-pruner.js';
import { validateRbacObject, rbacGroup } from './rbac-validation.js';
import { validateDaemonSet, validateDeployment } from './workload-validation.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
  /** Collects warnings for the client (the `Warning` header), e.g. dropped unknown fields. */
  warnings?: string[];
  /** Who asks, for admission that depends on the user (RBAC escalation); unset for controllers. */
  requester?: UserInfo;
}

/** A check of a write by a user, after defaults and before validation (e.g. RBAC escalation). */
export interface WriteAdmission {
  admit(d: ResourceDescriptor, obj: KubeObject, existing: KubeObject | undefined, user: UserInfo): void;
}

export interface UpdateOptions extends WriteOptions {
  subresource?: string;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface DeleteOutcome {
  object: KubeObject;
  /** False when the object is only marked for deletion (graceful, finalizers, namespaces). */
  removed: boolean;
}

const namespacesRef = { group: '', plural: 'namespaces' };
const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const crdCleanupFinalizer = 'customresourcecleanup.apiextensions.k8s.io';

/** Five characters of Kubernetes' name-suffix alphabet (generateName, kube-api-access-*). */
export function randomSuffix(): string {
  let out = '';
  for (let i = 0; i < 5; i++) out += nameAlphabet[Math.floor(Math.random() * nameAlphabet.length)];
  return out;
}

function qualifiedKind(d: ResourceDescriptor): string {
  return d.group === '' ? d.kind : `${d.kind}.${d.group}`;
}

function refOf(d: ResourceDescriptor): { group: string; plural: string } {
  return { group: d.group, plural: d.plural };
}

/** Fields a client may not set: the server owns them. */
const serverOwnedMeta = ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink', 'managedFields'];

export class ResourceWriter {
  private readonly builtinPruner = new BuiltinFieldPruner();
  private readonly serviceIps: ServiceIpAdmission;
  private readonly admissions: WriteAdmission[] = [];

  constructor(
    private readonly store: ObjectStore,
    clusterIps: ClusterIpAllocator,
  ) {
    this.serviceIps = new ServiceIpAdmission(clusterIps);
  }

  /** Adds a check every user's write passes (controllers' writes carry no requester and skip it). */
  addAdmission(admission: WriteAdmission): void {
    this.admissions.push(admission);
  }

  create(d: ResourceDescriptor, namespace: string | undefined, input: KubeObject, options: WriteOptions = {}): KubeObject {
    const obj = deepClone(input);
    const meta = obj.metadata;
    this.placeInNamespace(d, obj, namespace);
    if (!meta.name && typeof meta.generateName === 'string' && meta.generateName !== '') {
      meta.name = `${meta.generateName}${randomSuffix()}`;
    }
    for (const field of serverOwnedMeta) delete meta[field];
    if (d.namespaced) this.requireLiveNamespace(d, meta.namespace!, meta.name ?? '');

    applyCreateDefaults(d.kind, obj);
    const prepared = this.pruneUnknownFields(d, obj, options);
    if (d.kind === 'CustomResourceDefinition' && d.group === 'apiextensions.k8s.io') {
      prepared.metadata.finalizers = [...new Set([...(prepared.metadata.finalizers ?? []), crdCleanupFinalizer])];
      prepared.status = { conditions: [], acceptedNames: { plural: '', kind: '' }, storedVersions: [] };
    }
    if (options.requester) for (const admission of this.admissions) admission.admit(d, prepared, undefined, options.requester);
    this.validate(d, prepared, undefined);

    const key = storageKeyOf(d);
    if (this.store.get(key, prepared.metadata.namespace, prepared.metadata.name!)) {
      throw statusErrors.alreadyExists(refOf(d), prepared.metadata.name!);
    }
    const allocatedIps = isCoreService(d) ? this.serviceIps.allocate(prepared) : [];
    prepared.metadata.uid = randomUUID();
    prepared.metadata.creationTimestamp = kubeTimestamp();
    if (d.generation !== 'never') prepared.metadata.generation = 1;
    if (options.dryRun) {
      this.serviceIps.release(allocatedIps);
      return prepared;
    }
    return deepClone(this.store.create(key, orderFields(prepared)));
  }

  update(d: ResourceDescriptor, namespace: string | undefined, name: string, input: KubeObject, options: UpdateOptions = {}): KubeObject {
    const key = storageKeyOf(d);
    const incoming = deepClone(input);
    if (incoming.metadata.name !== undefined && incoming.metadata.name !== name) {
      throw statusErrors.badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (d.namespaced && incoming.metadata.namespace !== undefined && incoming.metadata.namespace !== namespace) {
      throw statusErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const existing = this.store.get(key, namespace, name);
    if (!existing) throw statusErrors.notFound(refOf(d), name);
    const wantedRv = incoming.metadata.resourceVersion;
    if (wantedRv !== undefined && wantedRv !== '' && wantedRv !== existing.metadata.resourceVersion) {
      throw statusErrors.staleResourceVersion(refOf(d), name);
    }

    let next = mergeForUpdate(d, existing, incoming, options.subresource);
    applyUpdateDefaults(d.kind, next);
    next = this.pruneUnknownFields(d, next, options);
    if (options.requester) for (const admission of this.admissions) admission.admit(d, next, existing, options.requester);
    this.validate(d, next, existing);
    if (isCoreService(d)) this.serviceIps.keepOnUpdate(next, existing);
    bumpGeneration(d, next, existing);

    if (jsonEqual(withoutVersion(next), withoutVersion(existing))) return deepClone(existing);
    if (options.dryRun) return next;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && d.kind !== 'Namespace' &&
        (existing.metadata.deletionGracePeriodSeconds ?? 0) === 0) {
      // The last finalizer went: the object's deletion completes now. Not while a grace period
      // runs (kube-apiserver's shouldDeleteDuringUpdate): a terminating pod's status updates
      // (its kubelet marking it not Ready) must not remove it, or its service-account tokens
      // stop working while it still shuts down.
      this.store.update(key, orderFields(next));
      return deepClone(this.remove(d, next));
    }
    return deepClone(this.store.update(key, orderFields(next)));
  }

  delete(d: ResourceDescriptor, namespace: string | undefined, name: string, options: DeleteOptions = {}): DeleteOutcome {
    const key = storageKeyOf(d);
    const existing = this.store.get(key, namespace, name);
    if (!existing) throw statusErrors.notFound(refOf(d), name);
    const pre = options.preconditions ?? {};
    if (pre.uid !== undefined && pre.uid !== existing.metadata.uid) {
      throw statusErrors.conflict(refOf(d), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`);
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw statusErrors.conflict(refOf(d), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`);
    }
    if (options.dryRun) return { object: deepClone(existing), removed: true };

    if (d.kind === 'Namespace' && d.group === '') return { object: this.markNamespaceTerminating(existing), removed: false };

    const grace = this.gracePeriodFor(d, existing, options.gracePeriodSeconds);
    const finalizers = existing.metadata.finalizers ?? [];
    if (grace > 0 || finalizers.length > 0) {
      if (existing.metadata.deletionTimestamp) return { object: deepClone(existing), removed: false };
      const next = deepClone(existing);
      const now = Date.now();
      next.metadata.deletionTimestamp = kubeTimestamp(new Date(now + grace * 1000));
      next.metadata.deletionGracePeriodSeconds = grace;
      if (d.kind === 'CustomResourceDefinition') markCrdTerminating(next);
      return { object: deepClone(this.store.update(key, orderFields(next))), removed: false };
    }
    if (isCorePod(d)) {
      // Pods delete gracefully even at grace 0: the deletion timestamp is written first (a
      // MODIFIED event), then the object goes (DELETED), as in a real server's watch stream.
      const marked = deepClone(existing);
      marked.metadata.deletionTimestamp = kubeTimestamp();
      marked.metadata.deletionGracePeriodSeconds = 0;
      return { object: deepClone(this.remove(d, this.store.update(key, orderFields(marked)))), removed: true };
    }
    return { object: deepClone(this.remove(d, existing)), removed: true };
  }

  /** Removes a stored object for good and releases what it held. */
  private remove(d: ResourceDescriptor, existing: KubeObject): KubeObject {
    const last = this.store.delete(storageKeyOf(d), existing.metadata.namespace, existing.metadata.name!);
    if (isCoreService(d)) this.serviceIps.releaseOf(existing);
    return last;
  }

  /** Grace period for a delete: only node-bound, not yet finished pods terminate gracefully. */
  private gracePeriodFor(d: ResourceDescriptor, obj: KubeObject, requested: number | undefined): number {
    if (!isCorePod(d)) return 0;
    const spec = (obj.spec ?? {}) as Record<string, any>;
    const phase = ((obj.status ?? {}) as Record<string, any>).phase;
    if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
    const grace = requested ?? spec.terminationGracePeriodSeconds ?? 30;
    return Math.max(0, Math.floor(Number(grace)));
  }

  private markNamespaceTerminating(existing: KubeObject): KubeObject {
    if (existing.metadata.deletionTimestamp) return deepClone(existing);
    const next = deepClone(existing);
    next.metadata.deletionTimestamp = kubeTimestamp();
    next.metadata.deletionGracePeriodSeconds = 0;
    next.status = { ...((next.status ?? {}) as object), phase: 'Terminating' };
    return deepClone(this.store.update(storageKeyOf({ group: '', plural: 'namespaces' }), orderFields(next)));
  }

  private placeInNamespace(d: ResourceDescriptor, obj: KubeObject, namespace: string | undefined): void {
    if (!d.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== '' && obj.metadata.namespace !== namespace) {
      throw statusErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = namespace;
  }

  private requireLiveNamespace(d: ResourceDescriptor, namespace: string, name: string): void {
    const ns = this.store.get(storageKeyOf(namespacesRef), undefined, namespace);
    if (!ns) throw statusErrors.notFound(namespacesRef, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw statusErrors.forbidden(refOf(d), name, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  /**
   * Drops fields the kind's schema does not declare (refusing them when Strict, warning when
   * Warn, the default), as real servers do when decoding into typed objects or pruning custom
   * resources; custom resources also get their schema defaults here.
   */
  private pruneUnknownFields(d: ResourceDescriptor, obj: KubeObject, options: WriteOptions): KubeObject {
    let object: KubeObject;
    let unknownFields: string[];
    if (d.custom) {
      ({ object, unknownFields } = pruneAndDefault(obj, d.custom.schema));
    } else {
      const pruned = this.builtinPruner.prune(d.group, d.version, d.kind, obj as Record<string, unknown>);
      // A value the typed struct cannot hold fails the decoding itself, whatever fieldValidation says.
      if (pruned.decodeErrors.length > 0) {
        throw statusErrors.badRequest(`${d.kind} in version "${d.version}" cannot be handled as a ${d.kind}: ${pruned.decodeErrors[0]}`);
      }
      object = pruned.object as KubeObject;
      unknownFields = pruned.unknownFields;
    }
    if (unknownFields.length === 0) return object;
    const list = unknownFields.map((f) => `unknown field "${f}"`);
    if (options.fieldValidation === 'Strict') {
      const prefix = d.custom ? '' : `${d.kind} in version "${d.version}" cannot be handled as a ${d.kind}: `;
      throw statusErrors.badRequest(`${prefix}strict decoding error: ${list.join(', ')}`);
    }
    if (options.fieldValidation !== 'Ignore') options.warnings?.push(...list);
    return object;
  }

  private validate(d: ResourceDescriptor, obj: KubeObject, existing: KubeObject | undefined): void {
    let causes: FieldCause[];
    if (d.custom) {
      causes = [...validateObjectMeta(obj, 'dns1123subdomain'), ...validateCustomResource(obj, d.custom.schema)];
    } else {
      if (d.group === rbacGroup) causes = validateRbacObject(d.kind, obj, existing);
      else if (d.group === 'apps' && d.kind === 'DaemonSet') causes = validateDaemonSet(obj, existing);
      else if (d.group === 'apps' && d.kind === 'Deployment') causes = validateDeployment(obj, existing);
      else causes = validateBuiltin(d.kind, obj);
      if (d.kind === 'CustomResourceDefinition') causes.push(...validateCrdSpec(obj, existing));
      if (d.kind === 'Pod' && d.group === '' && existing) causes.push(...validatePodUpdate(obj, existing));
    }
    if (!obj.metadata.name && !causes.some((c) => c.field === 'metadata.name')) {
      causes.unshift({ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' });
    }
    if (causes.length === 0) return;
    const name = obj.metadata.name ?? '';
    throw statusErrors.invalid(d.kind, d.group, name, invalidMessage(qualifiedKind(d), name, causes), causes);
  }

}

function isCorePod(d: ResourceDescriptor): boolean {
  return d.kind === 'Pod' && d.group === '';
}

function withoutVersion(obj: KubeObject): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } };
}

function markCrdTerminating(crd: KubeObject): void {
  const status = (isPlainObject(crd.status) ? crd.status : {}) as Record<string, any>;
  const conditions: any[] = Array.isArray(status.conditions) ? status.conditions.filter((c: any) => c?.type !== 'Terminating') : [];
  conditions.push({ type: 'Terminating', status: 'True', lastTransitionTime: kubeTimestamp(), reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' });
  crd.status = { ...status, conditions };
}

/** kind, apiVersion, metadata first, as real servers serialize built-in objects. */
function orderFields(obj: KubeObject): KubeObject {
  const { apiVersion, kind, metadata, ...rest } = obj;
  return { kind, apiVersion, metadata, ...rest } as KubeObject;
}

