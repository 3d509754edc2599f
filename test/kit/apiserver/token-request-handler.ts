// POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token (TokenRequest, authentication.k8s.io/v1):
// checks the request as kube-apiserver's token REST storage does (audiences default to the API
// audiences, expirationSeconds 3600 by default and at least 10 minutes, a Pod or Secret binding
// that must exist with the given uid and a pod running as this service account) and answers
// 201 with the request, its status carrying a signed token and its expiry.
import type { ResourceRequest, ServerParts } from './handler-context.js';
import type { KubeObject } from './kube-object.js';
import { isPlainObject, kubeTimestamp } from './kube-object.js';
import { sendJson } from './http-io.js';
import { statusErrors } from './status-errors.js';
import { checkTypeMeta } from './type-meta.js';
import { readObjectBody } from './write-params.js';
import { fieldErrors } from './field-errors.js';
import type { FieldCause } from './field-errors.js';
import { invalidMessage } from './object-validation.js';
import type { ServiceAccountTokens, TokenBinding } from './service-account-tokens.js';

export const tokenRequestApiVersion = 'authentication.k8s.io/v1';
const defaultExpirationSeconds = 3600;
/** Real servers cap at 2^32 seconds. */
const maxExpirationSeconds = 2 ** 32;

export interface TokenRequestLimits {
  /** Shortest expirationSeconds accepted: 600 as in real servers; tests may lower it. */
  minExpirationSeconds: number;
}

interface BoundObjectRef {
  kind?: string;
  apiVersion?: string;
  name?: string;
  uid?: string;
}

function invalid(name: string, causes: FieldCause[]): never {
  throw statusErrors.invalid('TokenRequest', 'authentication.k8s.io', name, invalidMessage('TokenRequest.authentication.k8s.io', name, causes), causes);
}

function readSpec(body: KubeObject, name: string, limits: TokenRequestLimits): { audiences?: string[]; expirationSeconds: number; boundObjectRef?: BoundObjectRef } {
  const spec = body.spec ?? {};
  if (!isPlainObject(spec)) throw statusErrors.badRequest('TokenRequest in version "v1" cannot be handled as a TokenRequest: spec must be an object');
  const causes: FieldCause[] = [];
  const audiences = spec.audiences;
  if (audiences !== undefined && audiences !== null && !(Array.isArray(audiences) && audiences.every((a) => typeof a === 'string'))) {
    throw statusErrors.badRequest('TokenRequest in version "v1" cannot be handled as a TokenRequest: spec.audiences must be a list of strings');
  }
  const expiration = spec.expirationSeconds ?? defaultExpirationSeconds;
  if (typeof expiration !== 'number' || !Number.isInteger(expiration)) {
    throw statusErrors.badRequest('TokenRequest in version "v1" cannot be handled as a TokenRequest: spec.expirationSeconds must be an integer');
  }
  if (expiration < limits.minExpirationSeconds) {
    causes.push(fieldErrors.invalid('spec.expirationSeconds', expiration, `may not specify a duration less than ${limits.minExpirationSeconds === 600 ? '10 minutes' : `${limits.minExpirationSeconds} seconds`}`));
  } else if (expiration > maxExpirationSeconds) {
    causes.push(fieldErrors.invalid('spec.expirationSeconds', expiration, 'may not specify a duration larger than 2^32 seconds'));
  }
  const ref = spec.boundObjectRef;
  if (ref !== undefined && ref !== null && !isPlainObject(ref)) {
    throw statusErrors.badRequest('TokenRequest in version "v1" cannot be handled as a TokenRequest: spec.boundObjectRef must be an object');
  }
  if (isPlainObject(ref)) {
    for (const field of ['kind', 'apiVersion', 'name', 'uid']) {
      if (ref[field] !== undefined && typeof ref[field] !== 'string') {
        throw statusErrors.badRequest(`TokenRequest in version "v1" cannot be handled as a TokenRequest: spec.boundObjectRef.${field} must be a string`);
      }
    }
    if (!ref.name) causes.push(fieldErrors.required('spec.boundObjectRef.name'));
  }
  if (causes.length > 0) invalid(name, causes);
  return {
    audiences: audiences as string[] | undefined,
    expirationSeconds: expiration,
    boundObjectRef: isPlainObject(ref) ? ref as BoundObjectRef : undefined,
  };
}

/** Looks up what the token is to be bound to, refusing what a real server refuses. */
function resolveBinding(parts: ServerParts, namespace: string, saName: string, ref: BoundObjectRef): TokenBinding {
  const apiVersion = ref.apiVersion ?? '';
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  const version = apiVersion.includes('/') ? apiVersion.split('/')[1]! : apiVersion;
  const name = ref.name!;
  let target: KubeObject | undefined;
  const binding: TokenBinding = {};
  if (group === '' && ref.kind === 'Pod') {
    target = parts.store.get('/pods', namespace, name);
    if (!target) throw statusErrors.notFound({ group: '', plural: 'pods' }, name);
    const spec = (target.spec ?? {}) as { serviceAccountName?: string; nodeName?: string };
    if (spec.serviceAccountName !== saName) {
      throw statusErrors.badRequest(`cannot bind token for serviceaccount ${JSON.stringify(saName)} to pod running with different serviceaccount name.`);
    }
    binding.pod = { name, uid: target.metadata.uid! };
    if (spec.nodeName) {
      // 1.30+ servers add the pod's node; its uid only when the Node object exists.
      const node = parts.store.get('/nodes', undefined, spec.nodeName);
      binding.node = node ? { name: spec.nodeName, uid: node.metadata.uid! } : { name: spec.nodeName };
    }
  } else if (group === '' && ref.kind === 'Secret') {
    target = parts.store.get('/secrets', namespace, name);
    if (!target) throw statusErrors.notFound({ group: '', plural: 'secrets' }, name);
    binding.secret = { name, uid: target.metadata.uid! };
  } else {
    throw statusErrors.badRequest(`cannot bind token to object of type ${group}/${version}, Kind=${ref.kind ?? ''}`);
  }
  if (ref.uid && ref.uid !== target.metadata.uid) {
    throw statusErrors.conflict(
      { group: '', plural: ref.kind! },
      name,
      `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
    );
  }
  return binding;
}

export async function handleTokenRequest(parts: ServerParts, r: ResourceRequest, tokens: ServiceAccountTokens, limits: TokenRequestLimits): Promise<void> {
  const namespace = r.namespace!;
  const name = r.name!;
  const raw = await readObjectBody(parts, r, 'TokenRequest');
  // TokenRequest lives in authentication.k8s.io/v1, the group-version of TokenReview.
  const body = checkTypeMeta(parts.registry.find('authentication.k8s.io', 'v1', 'tokenreviews')!, raw, 'TokenRequest');
  const causes: FieldCause[] = [];
  if (body.metadata.name && body.metadata.name !== name) causes.push(fieldErrors.invalid('metadata.name', body.metadata.name, 'must match the service account name if specified'));
  if (body.metadata.namespace && body.metadata.namespace !== namespace) causes.push(fieldErrors.invalid('metadata.namespace', body.metadata.namespace, 'must match the service account namespace if specified'));
  if (causes.length > 0) invalid(name, causes);
  const spec = readSpec(body, name, limits);

  const serviceAccount = parts.store.get('/serviceaccounts', namespace, name);
  if (!serviceAccount) throw statusErrors.notFound({ group: '', plural: 'serviceaccounts' }, name);
  const audiences = spec.audiences && spec.audiences.length > 0 ? spec.audiences : tokens.apiAudiences;
  const binding = spec.boundObjectRef ? resolveBinding(parts, namespace, name, spec.boundObjectRef) : {};
  const issued = tokens.issue({
    namespace,
    serviceAccount: { name, uid: serviceAccount.metadata.uid! },
    audiences,
    expirationSeconds: spec.expirationSeconds,
    binding,
  });
  const outSpec: Record<string, unknown> = { audiences, expirationSeconds: spec.expirationSeconds };
  if (spec.boundObjectRef) outSpec.boundObjectRef = spec.boundObjectRef;
  sendJson(r.res, 201, {
    kind: 'TokenRequest',
    apiVersion: tokenRequestApiVersion,
    metadata: { name, namespace, creationTimestamp: kubeTimestamp(issued.issuedAt) },
    spec: outSpec,
    status: { token: issued.token, expirationTimestamp: kubeTimestamp(issued.expiresAt) },
  });
}
