// Why the CA refused a request. The service maps each kind to one gRPC status code in one place
// (certificate-service.ts); the reason goes to the caller in the status message and to the log.
//   unauthenticated    missing, malformed or invalid token            -> UNAUTHENTICATED
//   permission-denied  valid caller, but not for this identity/node   -> PERMISSION_DENIED
//   invalid-argument   malformed CSR or lifetime                      -> INVALID_ARGUMENT
//   unavailable        the API server could not be asked              -> UNAVAILABLE (retry)
export type CaRefusal = 'unauthenticated' | 'permission-denied' | 'invalid-argument' | 'unavailable';

export class CaRequestError extends Error {
  constructor(
    readonly refusal: CaRefusal,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'CaRequestError';
  }
}
