// `weft ca` assembled: issuer from the Secret (created once if missing), trust bundle published,
// a serving certificate from the same issuer, and the CertificateService on gRPC over TLS.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CaConfig } from '../config/ca-config.js';
import type { CaKubeClients } from '../k8s/ca-kube-clients.js';
import { bootstrapIssuer } from './issuer-bootstrap.js';
import { issueServingCertificate, serviceDnsNames } from './serving-certificate.js';
import { CallerAuthenticator } from './caller-authenticator.js';
import { CertificateService } from './certificate-service.js';
import { certificateServiceDefinition } from '../identity/ca-proto.js';
import type { Issuer } from './issuer.js';

export interface RunningCa {
  port: number;
  issuer: Issuer;
  trustBundlePem: string;
  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

/** A CSR is ~1 KiB; refusing big messages early keeps a misbehaving caller cheap. */
const MAX_MESSAGE_BYTES = 64 * 1024;

export async function startCaServer(config: CaConfig, kube: CaKubeClients, log: Logger): Promise<RunningCa> {
  const caLog = log.child({ subsys: 'ca' });
  const issuer = await bootstrapIssuer(kube.secretsIn(config.namespace), config.trustDomain, caLog);
  const serving = await issueServingCertificate(issuer, serviceDnsNames(config.serviceName, config.namespace), config.ipSans);
  const pods = kube.pods;
  const service = new CertificateService({
    authenticator: new CallerAuthenticator(kube.tokenReviewer, pods, {
      audience: config.audience,
      agentUsername: config.agentServiceAccount,
    }),
    pods,
    issuer,
    trustDomain: config.trustDomain,
    lifetimes: { defaultTtlSeconds: config.defaultTtlSeconds, maxTtlSeconds: config.maxTtlSeconds },
    log: caLog,
  });

  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  server.addService(certificateServiceDefinition().service, service.handlers());
  // No client certificates: callers authenticate with their token, and an agent without a
  // workload certificate yet must still be able to get its first one.
  const credentials = grpc.ServerCredentials.createSsl(
    null,
    [{ cert_chain: Buffer.from(serving.certificateChainPem), private_key: Buffer.from(serving.keyPem) }],
    false,
  );
  const host = config.listenHost.includes(':') ? `[${config.listenHost}]` : config.listenHost;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${config.port}`, credentials, (err, boundPort) => (err ? reject(err) : resolve(boundPort)));
  });
  caLog.info({ port, servingNotAfter: serving.notAfter.toISOString() }, 'ca serving');

  return {
    port,
    issuer,
    trustBundlePem: issuer.trustBundlePem,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown((err) => {
          clearTimeout(timer);
          if (err) caLog.warn({ err }, 'graceful shutdown failed; connections were cut');
          resolve();
        });
      }),
  };
}
