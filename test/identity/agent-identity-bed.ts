// What the agent's workload-identity tests share: a CA namespace on the in-repo API server with the
// agent's service account and one agent pod per node (so pod-bound tokens from the real
// TokenRequest API carry a node), the real `weft ca` started in it, the agent's token file on disk,
// hand-built mesh snapshots, a reader of metrics text, and a TLS handshake that shows which
// certificate a workload's SecureContext really presents.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { startCaServer, type RunningCa } from '../../agent/src/ca/ca-server.js';
import { loadCaConfig } from '../../agent/src/config/ca-config.js';
import type { AgentCaConfig } from '../../agent/src/config/agent-config.js';
import { createCaKubeClients } from '../../agent/src/k8s/ca-kube-clients.js';
import { EMPTY_SNAPSHOT, type LocalPodRef, type MeshSnapshot } from '../../agent/src/state/mesh-snapshot.js';
import { uniqueName } from '../support/unique-name.js';
import type { CaTestCluster } from '../ca/ca-test-cluster.js';

export const AGENT_SERVICE_ACCOUNT = 'weft-agent';

/** A namespace for `weft ca` and its trust bundle, with the agent's service account and pods. */
export class AgentCaNamespace {
  private readonly cas: RunningCa[] = [];

  private constructor(
    private readonly cluster: CaTestCluster,
    readonly namespace: string,
    /** The agent's token file (audience weft-ca), as the kubelet projects it. */
    readonly tokenFile: string,
  ) {}

  /** Creates the namespace and the agent's service account; no CA runs yet, so no ConfigMap exists. */
  static async create(cluster: CaTestCluster, tokenDir: string): Promise<AgentCaNamespace> {
    const namespace = uniqueName('weft');
    await cluster.namespace(namespace);
    await cluster.serviceAccount(namespace, AGENT_SERVICE_ACCOUNT);
    return new AgentCaNamespace(cluster, namespace, join(tokenDir, `${namespace}-token`));
  }

  /** An agent pod scheduled on `nodeName`; returns its name. */
  async agentPod(nodeName: string, name = uniqueName(`weft-agent-${nodeName}`)): Promise<string> {
    await this.cluster.pod(this.namespace, name, AGENT_SERVICE_ACCOUNT, nodeName);
    return name;
  }

  /** A fresh token bound to the agent pod `podName`, written to the token file. */
  async writeTokenFor(podName: string): Promise<string> {
    const token = await this.cluster.podBoundToken(this.namespace, AGENT_SERVICE_ACCOUNT, podName);
    await writeFile(this.tokenFile, `${token}\n`);
    return token;
  }

  /** Starts `weft ca` in this namespace: it creates its root and publishes `weft-trust-bundle`. */
  async startCa(log: Logger, port = 0): Promise<RunningCa> {
    const config = loadCaConfig(
      [
        '--namespace', this.namespace,
        '--agent-service-account', `system:serviceaccount:${this.namespace}:${AGENT_SERVICE_ACCOUNT}`,
        '--listen-host', '127.0.0.1', '--port', String(port), '--ip-san', '127.0.0.1',
        '--default-ttl', '1h', '--max-ttl', '2h',
      ],
      { KUBECONFIG: '/unused' },
    );
    const ca = await startCaServer(config, createCaKubeClients(this.cluster.kubeConfig), log);
    this.cas.push(ca);
    return ca;
  }

  /** The agent's CA settings for a CA listening on `port`. */
  agentCaConfig(port: number, certTtlSeconds = 3600): AgentCaConfig {
    return { address: `127.0.0.1:${port}`, tokenFile: this.tokenFile, namespace: this.namespace, certTtlSeconds };
  }

  async close(): Promise<void> {
    for (const ca of this.cas.splice(0)) await ca.close(1000);
  }
}

let snapshotVersion = 0;

/** A snapshot of a node whose only content that matters here is its enrolled local pods. */
export function snapshotWithPods(nodeName: string, pods: readonly LocalPodRef[]): MeshSnapshot {
  return { ...EMPTY_SNAPSHOT, version: ++snapshotVersion, nodeName, nodeIp: '127.0.0.1', enrolledLocalPods: pods };
}

/** The value of one sample in Prometheus text, or undefined when the sample is absent. */
export function sampleValue(metricsText: string, name: string, labels: Record<string, string>): number | undefined {
  const labelText = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const prefix = `${name}{${labelText}} `;
  const line = metricsText.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

export interface PresentedCertificate {
  serialNumber: string;
  subjectAltName: string;
  validTo: string;
}

/**
 * Serves one TLS handshake with `context` and returns the certificate the client saw. The client
 * verifies it against `trustBundlePem`, so this also proves the context's chain is trusted.
 */
export async function certificatePresentedBy(context: tls.SecureContext, trustBundlePem: string): Promise<PresentedCertificate> {
  // No default certificate: the handshake can only succeed with the context under test.
  const server = tls.createServer({ SNICallback: (_name, done) => done(null, context) }, (socket) => socket.end());
  server.on('tlsClientError', () => undefined); // the client reports the failure, with its reason
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  try {
    return await new Promise<PresentedCertificate>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        servername: 'workload.test',
        ca: trustBundlePem,
        // Workloads are checked by SPIFFE ID, not by host name; the caller asserts the SAN.
        checkServerIdentity: () => undefined,
      });
      socket.once('secureConnect', () => {
        const peer = socket.getPeerCertificate();
        resolve({ serialNumber: peer.serialNumber, subjectAltName: peer.subjectaltname ?? '', validTo: peer.valid_to });
        socket.destroy();
      });
      socket.once('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
