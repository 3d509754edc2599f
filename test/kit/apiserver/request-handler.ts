// The HTTP entry point: authentication, then non-resource paths (discovery, OpenAPI, health),
// then resource requests dispatched by verb. Errors become Status answers in this one place;
// anything unexpected is logged and answered 500 so the server keeps serving.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestAuthenticator, UserInfo } from './authentication.js';
import type { Authorizer, RequestAttributes } from './authorization.js';
import { forbiddenMessage } from './authorization.js';
import { resourceAttributes } from './request-attributes.js';
import type { ServerParts, ResourceRequest } from './handler-context.js';
import type { OpenApiDocuments } from './openapi.js';
import { ApiError, statusErrors } from './status-errors.js';
import { sendJson, sendStatus } from './http-io.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from './discovery.js';
import { parseResourcePath } from './request-target.js';
import { handleGet, handleList } from './handle-read.js';
import { handleCreate } from './handle-create.js';
import { handleUpdate } from './handle-update.js';
import { handlePatch } from './handle-patch.js';
import { handleDelete, handleDeleteCollection } from './handle-delete.js';
import { handleTokenRequest } from './token-request-handler.js';
import type { TokenRequestLimits } from './token-request-handler.js';
import { handleTokenReview } from './token-review-handler.js';
import { handleAccessReview } from './access-review-handler.js';
import { impersonatedUser } from './impersonation.js';
import type { ServiceAccountTokens } from './service-account-tokens.js';

export type Logger = (msg: string, fields?: object) => void;

const healthPaths = new Set(['/healthz', '/livez', '/readyz']);

/** Paths that are not resources: discovery and OpenAPI documents. */
function isNonResourcePath(path: string): boolean {
  if (path === '/version' || path === '/api' || path === '/apis' || path.startsWith('/openapi/')) return true;
  const parsed = parseResourcePath(path);
  return parsed?.type === 'group' || parsed?.type === 'group-version';
}

export class RequestHandler {
  constructor(
    private readonly parts: ServerParts,
    private readonly authenticator: RequestAuthenticator,
    private readonly authorizer: Authorizer,
    private readonly openapi: OpenApiDocuments,
    private readonly serverAddress: () => string,
    private readonly log: Logger,
    private readonly tokens: ServiceAccountTokens,
    private readonly tokenLimits: TokenRequestLimits,
  ) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((err: unknown) => {
      // Drain an unread body so the connection can carry the answer (and the next request).
      if (!req.complete) req.resume();
      if (err instanceof ApiError) {
        sendStatus(res, err);
        return;
      }
      this.log('request failed', { method: req.method, url: req.url, err: (err as Error).stack ?? String(err) });
      sendStatus(res, statusErrors.internal((err as Error).message ?? String(err)));
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://apiserver.invalid');
    const auth = await this.authenticator.authenticate(req);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const isHealth = healthPaths.has(path) || /^\/(livez|readyz|healthz)\//.test(path);
    // Health checks are open to anonymous callers (as RBAC's defaults allow); all else needs a
    // valid token, and a token nobody accepts is refused even for health.
    if (auth.outcome === 'rejected' || (auth.outcome === 'anonymous' && !isHealth)) {
      req.resume();
      throw statusErrors.unauthorized();
    }
    if (isHealth) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('ok');
      return;
    }
    const asUser = await impersonatedUser(req, auth.user, (attributes) => this.authorize(auth.user, attributes, req));
    if (asUser !== undefined) auth.user = asUser;
    const method = req.method ?? 'GET';
    let authorizedPath = false;
    if (method === 'GET' && isNonResourcePath(path)) {
      await this.authorize(auth.user, { kind: 'non-resource', verb: 'get', path }, req);
      authorizedPath = true;
      if (this.serveNonResource(path, req.headers.accept ?? '', url.searchParams.get('hash'), res)) return;
    }
    const parsed = parseResourcePath(path);
    if (parsed?.type !== 'resource') {
      // Not a resource: authorized as a path first (a real server says 403 before 404/405).
      if (!authorizedPath) await this.authorize(auth.user, { kind: 'non-resource', verb: method.toLowerCase(), path }, req);
      if (parsed !== undefined && method !== 'GET') throw statusErrors.methodNotAllowed();
      throw statusErrors.routeNotFound();
    }
    const t = parsed.target;
    const query = url.searchParams;
    if (t.legacyWatch) query.set('watch', 'true');
    const watching = query.get('watch') === 'true' || query.get('watch') === '1';
    await this.authorize(auth.user, resourceAttributes(t, method, query, watching), req);
    const descriptor = this.parts.registry.find(t.group, t.version, t.plural);
    if (!descriptor) throw statusErrors.routeNotFound();
    if (t.namespace !== undefined && !descriptor.namespaced) throw statusErrors.routeNotFound();
    if (t.subresource !== undefined && !descriptor.subresources.includes(t.subresource)) throw statusErrors.routeNotFound();
    const r: ResourceRequest = { req, res, query, user: auth.user, descriptor, namespace: t.namespace, name: t.name, subresource: t.subresource };
    if (descriptor.group === 'authorization.k8s.io') {
      if (req.method !== 'POST' || t.name !== undefined) throw statusErrors.methodNotAllowed();
      return handleAccessReview(this.parts, r, this.authorizer);
    }
    if (descriptor.group === 'authentication.k8s.io' && descriptor.plural === 'tokenreviews') {
      if (req.method !== 'POST' || t.name !== undefined) throw statusErrors.methodNotAllowed();
      return handleTokenReview(this.parts, r, this.tokens);
    }
    if (t.name === undefined) {
      if (descriptor.namespaced && t.namespace === undefined && req.method !== 'GET') throw statusErrors.routeNotFound();
      switch (req.method) {
        case 'GET': return handleList(this.parts, r);
        case 'POST': return handleCreate(this.parts, r);
        case 'DELETE':
          if (!descriptor.verbs.includes('deletecollection')) throw statusErrors.methodNotAllowed();
          return handleDeleteCollection(this.parts, r);
        default: throw statusErrors.methodNotAllowed();
      }
    }
    if (descriptor.namespaced && t.namespace === undefined) throw statusErrors.routeNotFound();
    if (t.subresource === 'token') {
      if (req.method !== 'POST') throw statusErrors.methodNotAllowed();
      return handleTokenRequest(this.parts, r, this.tokens, this.tokenLimits);
    }
    if (t.subresource !== undefined) {
      if (t.subresource === 'finalize' && req.method !== 'PUT') throw statusErrors.methodNotAllowed();
      switch (req.method) {
        case 'GET': return handleGet(this.parts, r);
        case 'PUT': return handleUpdate(this.parts, r);
        case 'PATCH': return handlePatch(this.parts, r);
        default: throw statusErrors.methodNotAllowed();
      }
    }
    switch (req.method) {
      case 'GET':
        if (t.legacyWatch || query.get('watch') === 'true' || query.get('watch') === '1') {
          query.set('fieldSelector', [query.get('fieldSelector'), `metadata.name=${t.name}`].filter(Boolean).join(','));
          r.name = undefined;
          return handleList(this.parts, r);
        }
        return handleGet(this.parts, r);
      case 'PUT': return handleUpdate(this.parts, r);
      case 'PATCH': return handlePatch(this.parts, r);
      case 'DELETE': return handleDelete(this.parts, r);
      default: throw statusErrors.methodNotAllowed();
    }
  }

  private async authorize(user: UserInfo, attributes: RequestAttributes, req: IncomingMessage): Promise<void> {
    const decision = await this.authorizer.authorize(user, attributes);
    if (decision.allowed) return;
    req.resume();
    const why = forbiddenMessage(user.username, attributes) + (decision.reason ? `: ${decision.reason}` : '');
    if (attributes.kind === 'non-resource') throw new ApiError(403, 'Forbidden', `forbidden: ${why}`, {});
    throw statusErrors.forbidden({ group: attributes.group, plural: attributes.resource }, attributes.name ?? '', why);
  }

  /** Discovery and OpenAPI; true when the path was one of them. */
  private serveNonResource(path: string, accept: string, hash: string | null, res: ServerResponse): boolean {
    const registry = this.parts.registry;
    if (path === '/version') {
      sendJson(res, 200, versionInfo);
      return true;
    }
    if (path === '/api') {
      sendJson(res, 200, apiVersions(this.serverAddress()));
      return true;
    }
    if (path === '/apis') {
      sendJson(res, 200, apiGroupList(registry));
      return true;
    }
    if (path === '/openapi/v2') {
      // Only JSON is served; clients asking for protobuf alone get 406 and fall back.
      if (accept !== '' && !/json|\*\/\*/.test(accept)) throw statusErrors.notAcceptable('only the following media types are accepted: application/json');
      const body = this.openapi.v2Json();
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
      return true;
    }
    if (path === '/openapi/v3') {
      sendJson(res, 200, this.openapi.v3Index());
      return true;
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = this.openapi.v3(path.slice('/openapi/v3/'.length));
      if (!doc) throw statusErrors.routeNotFound();
      // A request naming the current hash may be cached forever, as real servers allow.
      const cache = hash === doc.hash ? 'public, immutable' : 'no-cache, private';
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(doc.text), Etag: `"${doc.hash}"`, 'Cache-Control': cache });
      res.end(doc.text);
      return true;
    }
    const parsed = parseResourcePath(path);
    if (parsed?.type === 'group-version') {
      const doc = apiResourceList(registry, parsed.group, parsed.version);
      if (!doc) throw statusErrors.routeNotFound();
      sendJson(res, 200, doc);
      return true;
    }
    if (parsed?.type === 'group') {
      const doc = apiGroup(registry, parsed.group);
      if (!doc) throw statusErrors.routeNotFound();
      sendJson(res, 200, doc);
      return true;
    }
    return false;
  }
}
