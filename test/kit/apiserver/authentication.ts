// Who is calling. Authenticators are a chain (as in kube-apiserver): the static admin token, then
// service-account tokens (service-account-tokens.ts); each answers a user or "not mine".
// Authorization (RBAC) is a separate step that takes the user this returns.
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface TokenAuthenticator {
  /** The user the token belongs to, or undefined when this authenticator does not know it. */
  authenticateToken(token: string): UserInfo | undefined | Promise<UserInfo | undefined>;
}

export const anonymousUser: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The admin token written into the kubeconfig. */
export class StaticTokenAuthenticator implements TokenAuthenticator {
  private readonly expected: Buffer;
  constructor(token: string, private readonly user: UserInfo) {
    this.expected = Buffer.from(token);
  }

  authenticateToken(token: string): UserInfo | undefined {
    const given = Buffer.from(token);
    if (given.length !== this.expected.length || !timingSafeEqual(given, this.expected)) return undefined;
    return this.user;
  }
}

export type AuthenticationResult =
  | { outcome: 'authenticated'; user: UserInfo }
  | { outcome: 'anonymous'; user: UserInfo }
  | { outcome: 'rejected' };

export class RequestAuthenticator {
  constructor(private readonly authenticators: TokenAuthenticator[]) {}

  /** Adds an authenticator (e.g. service-account tokens) after the ones given at construction. */
  add(authenticator: TokenAuthenticator): void {
    this.authenticators.push(authenticator);
  }

  /** A request without credentials is anonymous; a bearer token nobody accepts is rejected (401). */
  async authenticate(req: IncomingMessage): Promise<AuthenticationResult> {
    const header = req.headers.authorization;
    if (header === undefined || header === '') return { outcome: 'anonymous', user: anonymousUser };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return { outcome: 'rejected' };
    for (const authenticator of this.authenticators) {
      const user = await authenticator.authenticateToken(match[1]!);
      if (user !== undefined) {
        return { outcome: 'authenticated', user: { ...user, groups: [...new Set([...user.groups, 'system:authenticated'])] } };
      }
    }
    return { outcome: 'rejected' };
  }
}
