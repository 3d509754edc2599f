// The in-repo Kubernetes API server: HTTPS with its own CA, bearer-token authentication, and
// the resources, semantics and controllers the tests and the bed rely on (see contracts.md).
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureServerTls } from './tls.js';
import { writeKubeconfig } from './kubeconfig.js';
import { RequestAuthenticator, StaticTokenAuthenticator } from './authentication.js';
import type { TokenAuthenticator } from './authentication.js';
import { RbacAuthorizer } from './rbac-authorizer.js';
import { RbacEscalationGuard } from './rbac-escalation.js';
import type { Authorizer } from './authorization.js';
import { ResourceRegistry } from './resource-registry.js';
import { ObjectStore } from './store.js';
import { ResourceWriter } from './resource-writer.js';
import { WatchHub } from './watch.js';
import { ClusterIpAllocator } from './cluster-ip-allocator.js';
import { OpenApiDocuments } from './openapi.js';
import { RequestHandler } from './request-handler.js';
import type { Logger } from './request-handler.js';
import { NamespaceLifecycle } from './namespace-lifecycle.js';
import { CrdController } from './crd-controller.js';
import { bootstrapObjects } from './bootstrap.js';
import { ensureServiceAccountKey } from './service-account-key.js';
import { ServiceAccountTokenAuthenticator, ServiceAccountTokens } from './service-account-tokens.js';
import { ServiceAccountAdmission } from './service-account-admission.js';

export interface ApiServerOptions {
  stateDir: string;
  host?: string;
  port?: number;
  serviceCIDR?: string;
  watchWindow?: number;
  maxBodyBytes?: number;
  token?: string;
  /** Authenticators tried after the admin token and service-account tokens. */
  extraAuthenticators?: TokenAuthenticator[];
  /**
   * Decides what authenticated users may do; default: RBAC from the stored Roles, ClusterRoles and
   * bindings, with `system:masters` (the admin token) allowed everything.
   */
  authorizer?: Authorizer;
  /** More names/addresses for the serving certificate (e.g. an address a relay exposes). */
  extraSubjectAltNames?: string[];
  /** How often watches with allowWatchBookmarks get a BOOKMARK; default 10 s. */
  bookmarkIntervalMs?: number;
  /** Where diagnostics go (bugs caught by the 500 handler, controller failures); default stderr. */
  log?: Logger;
  /** `iss` of service-account tokens; default https://kubernetes.default.svc.cluster.local (kubeadm's). */
  serviceAccountIssuer?: string;
  /** Audiences a token must have to authenticate to this server; default [issuer] (--api-audiences). */
  apiAudiences?: string[];
  /** Test-only: the clock tokens are issued and checked by (ms since the epoch); default Date.now. */
  tokenClock?: () => number;
  /**
   * The ServiceAccount admission plugin (the API access volume on new pods); default on, as in
   * kube-apiserver. Off only to compare with answers captured with the plugin disabled.
   */
  serviceAccountAdmission?: boolean;
}

export interface ApiServerHandle {
  url: string;
  port: number;
  kubeconfigPath: string;
  caCertPem: string;
  token: string;
  /** `iss` of the service-account tokens this server issues. */
  serviceAccountIssuer: string;
  /** Default audiences of its tokens, which requests to the server itself must carry. */
  apiAudiences: string[];
  /**
   * Forgets all retained events, so any watch from an older resourceVersion gets 410, and ends
   * the open watches so their clients come back with their (now too old) resourceVersion.
   */
  compactWatchHistory(): void;
  /** Ends every open watch stream (as an API server restart or a dropped connection would). */
  endWatches(): void;
  close(): Promise<void>;
}

const defaultLog: Logger = (msg, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), subsys: 'apiserver', msg, ...fields })}\n`);
};

/** Watches end after this long unless the client asks for less (real servers: 30-60 min). */
const defaultWatchTimeoutSeconds = 1800;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? defaultLog;
  const token = options.token ?? randomBytes(24).toString('hex');
  await mkdir(options.stateDir, { recursive: true });
  const tls = await ensureServerTls(options.stateDir, [host, ...(options.extraSubjectAltNames ?? [])]);

  const registry = new ResourceRegistry();
  const store = new ObjectStore(options.watchWindow ?? 5000, (err) => log('store listener failed', { err: (err as Error).stack ?? String(err) }));
  const clusterIps = new ClusterIpAllocator(options.serviceCIDR ?? '10.96.0.0/16');
  const writer = new ResourceWriter(store, clusterIps);
  const watches = new WatchHub(store, options.bookmarkIntervalMs ?? 10_000, defaultWatchTimeoutSeconds);
  const namespaces = new NamespaceLifecycle(store, registry, writer, log, tls.caCertPem);
  const crds = new CrdController(store, registry, writer, log);
  bootstrapObjects(registry, writer);

  const serviceAccountIssuer = options.serviceAccountIssuer ?? 'https://kubernetes.default.svc.cluster.local';
  const apiAudiences = options.apiAudiences ?? [serviceAccountIssuer];
  if (apiAudiences.length === 0) throw new Error('apiAudiences must name at least one audience');
  const tokens = new ServiceAccountTokens(await ensureServiceAccountKey(options.stateDir), store, {
    issuer: serviceAccountIssuer,
    apiAudiences,
    now: options.tokenClock ?? Date.now,
  });
  const authenticator = new RequestAuthenticator([
    new StaticTokenAuthenticator(token, { username: 'kubernetes-admin', groups: ['system:masters'] }),
    new ServiceAccountTokenAuthenticator(tokens, log),
    ...(options.extraAuthenticators ?? []),
  ]);
  // RBAC by default, with its escalation prevention on writes of roles and bindings.
  if (options.serviceAccountAdmission ?? true) writer.addAdmission(new ServiceAccountAdmission(store));
  let authorizer = options.authorizer;
  if (authorizer === undefined) {
    const rbac = new RbacAuthorizer(store);
    writer.addAdmission(new RbacEscalationGuard(rbac));
    authorizer = rbac;
  }
  let serverAddress = '';
  const handler = new RequestHandler(
    { store, registry, writer, watches, maxBodyBytes: options.maxBodyBytes ?? 3 * 1024 * 1024, log },
    authenticator,
    authorizer,
    new OpenApiDocuments(registry),
    () => serverAddress,
    log,
    tokens,
    { minExpirationSeconds: 600 },
  );

  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, handler.handle);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (err, socket) => {
    // Broken TLS handshakes and malformed HTTP: answer if possible, never crash.
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' && socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `${urlHost(host)}:${port}`;
  const url = `https://${serverAddress}`;
  const kubeconfigPath = join(options.stateDir, 'kubeconfig');
  await writeFile(join(options.stateDir, 'token'), token, { mode: 0o600 });
  await writeKubeconfig(kubeconfigPath, url, tls.caCertPem, token);

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    kubeconfigPath,
    caCertPem: tls.caCertPem,
    token,
    serviceAccountIssuer,
    apiAudiences,
    compactWatchHistory: () => {
      store.compact();
      watches.closeAll();
    },
    endWatches: () => watches.closeAll(),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        namespaces.stop();
        crds.stop();
        watches.closeAll();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}
