// Small helpers around @kubernetes/client-node for the bed: load a kubeconfig, recognise API
// errors by HTTP code, retry read-modify-write on 409 Conflict.
import { KubeConfig, ApiException } from '@kubernetes/client-node';

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export function apiErrorCode(err: unknown): number | null {
  return err instanceof ApiException ? err.code : null;
}

export function isNotFound(err: unknown): boolean {
  return apiErrorCode(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return apiErrorCode(err) === 409;
}

export { describeApiError } from './api-error-text.js';

/** Runs `attempt` again while it fails with 409 Conflict (someone else updated the object). */
export async function retryOnConflict<T>(attempt: () => Promise<T>, maxAttempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isConflict(err) || i >= maxAttempts) throw err;
    }
  }
}
