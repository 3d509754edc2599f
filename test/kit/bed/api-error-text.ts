// One-line text for an error from the Kubernetes client. It recognises client-node's ApiException
// by shape (numeric `code` and a `body`), so the CLI can print errors without importing the
// client library, which is slow to load on a busy machine.

interface ApiErrorShape {
  code: number;
  body: unknown;
}

function looksLikeApiError(err: unknown): err is ApiErrorShape {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

export function describeApiError(err: unknown): string {
  if (looksLikeApiError(err)) {
    const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
    let message = body;
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) message = status.message;
    } catch (parseError) {
      // A body that is not JSON (e.g. a proxy error page) is shown as it is.
      if (!(parseError instanceof SyntaxError)) throw parseError;
    }
    return `HTTP ${err.code}: ${message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
