// User impersonation (`kubectl --as=USER --as-group=GROUP`, the Impersonate-* headers): the
// caller must be allowed verb `impersonate` on users, groups, serviceaccounts, uids or userextras
// (the admin is); the request then runs as the impersonated user, as kube-apiserver's
// WithImpersonation filter does. Impersonating a service account without groups gives it the
// groups its token would carry; every impersonated user is in `system:authenticated`.
import type { IncomingMessage } from 'node:http';
import type { UserInfo } from './authentication.js';
import type { RequestAttributes } from './authorization.js';
import { statusErrors } from './status-errors.js';

const serviceAccountPrefix = 'system:serviceaccount:';

function headerValues(req: IncomingMessage, name: string): string[] {
  return (req.headersDistinct[name] ?? []).filter((v) => v !== '');
}

/**
 * The user a request runs as, or undefined when it impersonates nobody. `authorize` throws the
 * 403 for a check that fails.
 */
export async function impersonatedUser(
  req: IncomingMessage,
  caller: UserInfo,
  authorize: (attributes: RequestAttributes) => Promise<void>,
): Promise<UserInfo | undefined> {
  const userNames = headerValues(req, 'impersonate-user');
  const groupsAsked = headerValues(req, 'impersonate-group');
  const uids = headerValues(req, 'impersonate-uid');
  const extraKeys = Object.keys(req.headersDistinct).filter((h) => h.startsWith('impersonate-extra-'));
  if (userNames.length === 0 && groupsAsked.length === 0 && uids.length === 0 && extraKeys.length === 0) return undefined;
  if (userNames.length === 0) throw statusErrors.internal('requested impersonation of groups, uid or extras without impersonating a user');
  const check = (resource: string, name: string, extra: Partial<Extract<RequestAttributes, { kind: 'resource' }>> = {}): Promise<void> =>
    authorize({ kind: 'resource', verb: 'impersonate', group: '', version: 'v1', resource, name, ...extra });

  const username = userNames[0]!;
  let groups: string[] = [];
  if (username.startsWith(serviceAccountPrefix) && username.split(':').length === 4) {
    const [, , namespace, name] = username.split(':') as [string, string, string, string];
    await check('serviceaccounts', name, { namespace });
    if (groupsAsked.length === 0) groups = ['system:serviceaccounts', `system:serviceaccounts:${namespace}`];
  } else {
    await check('users', username);
  }
  for (const group of groupsAsked) {
    await check('groups', group);
    groups.push(group);
  }
  const extra: Record<string, string[]> = {};
  for (const header of extraKeys) {
    const key = decodeURIComponent(header.slice('impersonate-extra-'.length));
    for (const value of headerValues(req, header)) {
      await check('userextras', value, { group: 'authentication.k8s.io', subresource: key });
      (extra[key] ??= []).push(value);
    }
  }
  for (const uid of uids) await check('uids', uid, { group: 'authentication.k8s.io' });
  if (username !== 'system:anonymous' && !groups.includes('system:authenticated')) groups.push('system:authenticated');
  return { username, groups, ...(uids.length > 0 ? { uid: uids[0] } : {}), ...(extraKeys.length > 0 ? { extra } : {}) };
}
