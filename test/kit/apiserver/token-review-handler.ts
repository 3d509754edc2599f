// POST /apis/authentication.k8s.io/v1/tokenreviews: asks "whose token is this, for these
// audiences?" Always 201 with the review; a token that does not pass has no user and an
// `error`, worded as real servers word it. Nothing is stored (TokenReview is create-only).
import type { ResourceRequest, ServerParts } from './handler-context.js';
import { isPlainObject } from './kube-object.js';
import { sendJson } from './http-io.js';
import { statusErrors } from './status-errors.js';
import { checkTypeMeta } from './type-meta.js';
import { readObjectBody } from './write-params.js';
import type { ServiceAccountTokens } from './service-account-tokens.js';

/** What the request authenticator says when no token authenticator knows a bearer token. */
const invalidBearerToken = 'invalid bearer token';

export async function handleTokenReview(parts: ServerParts, r: ResourceRequest, tokens: ServiceAccountTokens): Promise<void> {
  const raw = await readObjectBody(parts, r, r.descriptor.kind);
  const body = checkTypeMeta(r.descriptor, raw);
  const spec = body.spec ?? {};
  if (!isPlainObject(spec)) throw statusErrors.badRequest('TokenReview in version "v1" cannot be handled as a TokenReview: spec must be an object');
  const token = spec.token;
  const audiences = spec.audiences ?? [];
  if (token !== undefined && typeof token !== 'string') throw statusErrors.badRequest('TokenReview in version "v1" cannot be handled as a TokenReview: spec.token must be a string');
  if (audiences !== null && !(Array.isArray(audiences) && audiences.every((a) => typeof a === 'string'))) {
    throw statusErrors.badRequest('TokenReview in version "v1" cannot be handled as a TokenReview: spec.audiences must be a list of strings');
  }
  if (!token) {
    throw statusErrors.invalid('TokenReview', 'authentication.k8s.io', '', 'TokenReview.authentication.k8s.io "" is invalid: spec.token: Required value: token must not be empty', [
      { reason: 'FieldValueRequired', message: 'Required value: token must not be empty', field: 'spec.token' },
    ]);
  }
  const verdict = tokens.verify(token, (audiences ?? []) as string[]);
  // Real servers omit `authenticated: false` (omitempty) and send an empty user on failure.
  let status: Record<string, unknown>;
  if (verdict.outcome === 'authenticated') {
    const user = { ...verdict.user, groups: [...verdict.user.groups, 'system:authenticated'] };
    status = { authenticated: true, user, audiences: verdict.audiences };
  } else {
    status = { user: {}, error: verdict.outcome === 'not-mine' ? invalidBearerToken : `[${invalidBearerToken}, ${verdict.reason}]` };
  }
  const outSpec: Record<string, unknown> = { token };
  if (Array.isArray(audiences) && audiences.length > 0) outSpec.audiences = audiences;
  sendJson(r.res, 201, {
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: outSpec,
    status,
  });
}
