// A small cluster for CA tests on the in-repo API server: namespaces, service accounts, pods
// placed on nodes (spec.nodeName, as the scheduler would), pod-bound tokens from the real
// TokenRequest API, and a gRPC client of the CA that trusts the published bundle.
import * as grpc from '@grpc/grpc-js';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { startApiServer, type ApiServerHandle } from '../kit/index.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { certificateServiceDefinition, type CertificateServiceClient, type CreateCertificateResponse } from '../../agent/src/identity/ca-proto.js';
import { CaClient, CaCallError } from '../../agent/src/identity/ca-client.js';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger that keeps its lines for assertions. */
export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

export class CaTestCluster {
  private constructor(
    readonly apiServer: ApiServerHandle,
    readonly kubeConfig: KubeConfig,
    readonly core: CoreV1Api,
    private readonly stateDir: TempDir,
  ) {}

  static async start(): Promise<CaTestCluster> {
    const stateDir = await makeTempDir('ca-apiserver');
    let apiServer: ApiServerHandle;
    try {
      apiServer = await startApiServer({ stateDir: stateDir.path, port: 0, log: () => undefined });
    } catch (err) {
      await stateDir.remove();
      throw err;
    }
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(apiServer.kubeconfigPath);
    return new CaTestCluster(apiServer, kubeConfig, kubeConfig.makeApiClient(CoreV1Api), stateDir);
  }

  async namespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } });
  }

  async serviceAccount(namespace: string, name: string): Promise<void> {
    await this.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  }

  /** A pod of `serviceAccount` scheduled on `nodeName`; returns its uid. */
  async pod(namespace: string, name: string, serviceAccount: string, nodeName: string): Promise<string> {
    const pod = await this.core.createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: { serviceAccountName: serviceAccount, nodeName, containers: [{ name: 'main', image: 'busybox' }] } },
    });
    return pod.metadata!.uid!;
  }

  async setPodPhase(namespace: string, name: string, phase: string): Promise<void> {
    const pod = await this.core.readNamespacedPod({ namespace, name });
    await this.core.replaceNamespacedPodStatus({ namespace, name, body: { ...pod, status: { ...pod.status, phase } } });
  }

  /** A TokenRequest token for `serviceAccount`, bound to `podName`, for `audience`. */
  async podBoundToken(namespace: string, serviceAccount: string, podName: string, audience = 'weft-ca'): Promise<string> {
    const pod = await this.core.readNamespacedPod({ namespace, name: podName });
    const response = await this.core.createNamespacedServiceAccountToken({
      namespace,
      name: serviceAccount,
      body: {
        spec: {
          audiences: [audience],
          expirationSeconds: 3600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: podName, uid: pod.metadata!.uid },
        },
      },
    });
    return response.status!.token;
  }

  async close(): Promise<void> {
    await this.apiServer.close();
    await this.stateDir.remove();
  }
}

/**
 * Calls the CA through the agent's CaClient; a call without a token (which the agent never
 * makes) goes through a bare grpc-js client.
 */
export class CaTestClient {
  private readonly client: CaClient;
  private readonly bare: CertificateServiceClient;

  constructor(port: number, trustBundlePem: string) {
    this.client = new CaClient({ address: `127.0.0.1:${port}`, trustBundlePem });
    const { Client } = certificateServiceDefinition();
    this.bare = new Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(trustBundlePem)));
  }

  /** Resolves with the response, or with the gRPC code and reason (never rejects for a status). */
  async call(csr: string, validitySeconds: number, token: string | undefined): Promise<{ response?: CreateCertificateResponse; error?: { code: grpc.status; details: string } }> {
    if (token === undefined) {
      return new Promise((resolve) => {
        this.bare.CreateCertificate({ csr, validity_seconds: validitySeconds }, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, response) => {
          resolve(error ? { error: { code: error.code, details: error.details } } : { response });
        });
      });
    }
    try {
      return { response: { cert_chain: await this.client.createCertificate({ csrPem: csr, validitySeconds, token, timeoutMs: 20_000 }) } };
    } catch (err) {
      if (err instanceof CaCallError) return { error: { code: err.code, details: err.details } };
      throw err;
    }
  }

  close(): void {
    this.client.close();
    this.bare.close();
  }
}
