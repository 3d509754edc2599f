// Asks the API server who a service-account token belongs to (TokenReview), on behalf of the CA.
// Only the fields the CA decides on are returned; the token itself is never logged.
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface TokenReviewResult {
  authenticated: boolean;
  username?: string;
  uid?: string;
  /** The audiences the token is valid for, of those asked (empty: the API server's own). */
  audiences: string[];
  /** Claims Kubernetes adds, e.g. `authentication.kubernetes.io/pod-name`. */
  extra: Record<string, string[]>;
  /** Why the API server did not authenticate the token. */
  error?: string;
}

export class KubeTokenReviewer {
  private readonly api: AuthenticationV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async review(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    const review = await this.api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } },
    });
    const status = review.status ?? {};
    return {
      authenticated: status.authenticated === true,
      username: status.user?.username,
      uid: status.user?.uid,
      audiences: status.audiences ?? [],
      extra: status.user?.extra ?? {},
      error: status.error,
    };
  }
}
