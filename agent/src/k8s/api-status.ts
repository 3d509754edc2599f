// Recognises an HTTP status answered by the API server (client-node's ApiException), so callers
// can match an expected outcome (404 NotFound, 409 AlreadyExists) and rethrow anything else.
import { ApiException } from '@kubernetes/client-node';

export function isApiStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}
