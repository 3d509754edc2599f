// Condition-based waiting for tests and the bed: poll a predicate until it holds or a
// deadline passes. Tests must wait on conditions (a port answers, an object appears),
// never on fixed sleeps, so they stay correct on a loaded 2-core machine.

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Describes what is awaited; it becomes part of the timeout error. */
  what?: string;
}

export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, lastError?: unknown) {
    const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
    super(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Calls `probe` until it returns a value other than undefined/false, and returns that value.
 * A probe that throws counts as "not yet"; the last error is reported on timeout.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(options.what ?? 'condition', timeoutMs, lastError);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
