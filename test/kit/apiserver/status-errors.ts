// Kubernetes `Status` failures, built in one place so every error the server answers has the
// exact shape, reason and message style of a real kube-apiserver (see ../shared/k8s-golden).

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** What a handler throws to answer with a Status; anything else thrown is a bug (500). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): StatusObject {
    const status: StatusObject = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details !== undefined) {
      // Real servers put `details` before `code`; keep that order for byte-level lookalikes.
      delete (status as Partial<StatusObject>).code;
      status.details = this.details;
      status.code = this.code;
    }
    return status;
  }
}

/** A resource reference as Status details name it: plural resource and API group. */
export interface ResourceRef {
  group: string;
  plural: string;
}

function qualified(ref: ResourceRef): string {
  return ref.group === '' ? ref.plural : `${ref.plural}.${ref.group}`;
}

function details(ref: ResourceRef, name: string): StatusDetails {
  return ref.group === '' ? { name, kind: ref.plural } : { name, group: ref.group, kind: ref.plural };
}

export const statusErrors = {
  notFound(ref: ResourceRef, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualified(ref)} "${name}" not found`, details(ref, name));
  },
  /** An unknown path or resource type: the body real servers send for a missing route. */
  routeNotFound(): ApiError {
    return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  },
  alreadyExists(ref: ResourceRef, name: string): ApiError {
    return new ApiError(409, 'AlreadyExists', `${qualified(ref)} "${name}" already exists`, details(ref, name));
  },
  conflict(ref: ResourceRef, name: string, why: string): ApiError {
    return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(ref)} "${name}": ${why}`, details(ref, name));
  },
  staleResourceVersion(ref: ResourceRef, name: string): ApiError {
    return statusErrors.conflict(ref, name, 'the object has been modified; please apply your changes to the latest version and try again');
  },
  badRequest(message: string): ApiError {
    return new ApiError(400, 'BadRequest', message);
  },
  unauthorized(): ApiError {
    return new ApiError(401, 'Unauthorized', 'Unauthorized');
  },
  forbidden(ref: ResourceRef, name: string, why: string): ApiError {
    const subject = name === '' ? qualified(ref) : `${qualified(ref)} "${name}"`;
    // Go omits empty name and group; the key order is StatusDetails' field order (name, group, kind).
    return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, name === '' ? { ...(ref.group ? { group: ref.group } : {}), kind: ref.plural } : details(ref, name));
  },
  methodNotAllowed(): ApiError {
    return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
  },
  notAcceptable(message: string): ApiError {
    return new ApiError(406, 'NotAcceptable', message);
  },
  /** `kind` is the Kind for built-ins ("Service") and Kind for custom resources with the group apart. */
  invalid(kind: string, group: string, name: string, message: string, causes: StatusCause[]): ApiError {
    const d: StatusDetails = group === '' ? { name, kind, causes } : { name, group, kind, causes };
    return new ApiError(422, 'Invalid', message, d);
  },
  expired(message: string): ApiError {
    return new ApiError(410, 'Expired', message);
  },
  gone(message: string): ApiError {
    return new ApiError(410, 'Gone', message);
  },
  requestEntityTooLarge(limitBytes: number): ApiError {
    return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limitBytes}`);
  },
  unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
    return new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${contentType || 'no content type'}) - accepted media types include: ${accepted.join(', ')}`,
    );
  },
  internal(message: string): ApiError {
    return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
  },
};

/** The Status a successful delete answers with for kinds that do not return the object. */
export function successStatus(ref: ResourceRef, name: string, uid: string | undefined): object {
  const d: StatusDetails = details(ref, name);
  if (uid !== undefined) d.uid = uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: d };
}
