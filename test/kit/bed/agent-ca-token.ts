// The agents' credentials for the CA, as the DaemonSet's projected service-account token volume
// provides them: per node a token of weft-system/weft-agent for audience `weft-ca`, bound to that
// node's agent Pod (so the CA can tell which node asks), written atomically (tmp + rename, mode
// 0600) to <state>/run/agent-<node>/ca-token and refreshed once 80% of its lifetime has passed,
// as the kubelet refreshes projected tokens.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CoreV1Api } from '@kubernetes/client-node';
import { AGENT_SERVICE_ACCOUNT, MESH_NAMESPACE, type PodRef } from './mesh-system.js';

export const CA_AUDIENCE = 'weft-ca';
const TOKEN_EXPIRATION_SECONDS = 3600;
const REFRESH_AT_FRACTION = 0.8;
const RETRY_DELAY_MS = 10_000;
/** Guards against a busy loop should a server hand out tokens that are already expired. */
const MIN_REFRESH_DELAY_MS = 1000;

export function agentCaTokenFile(runDir: string, nodeName: string): string {
  return join(runDir, `agent-${nodeName}`, 'ca-token');
}

export interface AgentCaTokensOptions {
  core: CoreV1Api;
  runDir: string;
  /** The agent pod of each node, by node name. */
  pods: Map<string, PodRef>;
  log: (msg: string, fields?: object) => void;
}

export class AgentCaTokens {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: AgentCaTokensOptions) {}

  /** Writes every node's token once (failing loudly), then keeps them fresh in the background. */
  async start(): Promise<void> {
    for (const nodeName of this.options.pods.keys()) {
      const lifetimeMs = await this.writeToken(nodeName);
      this.schedule(nodeName, lifetimeMs * REFRESH_AT_FRACTION);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(nodeName: string, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.writeToken(nodeName).then(
        (lifetimeMs) => this.schedule(nodeName, lifetimeMs * REFRESH_AT_FRACTION),
        (err: unknown) => {
          // The previous token stays valid for the remaining fifth of its life: retry well before.
          this.options.log('refreshing the agent CA token failed; retrying', { node: nodeName, err: String(err) });
          this.schedule(nodeName, RETRY_DELAY_MS);
        },
      );
    }, Math.max(delayMs, MIN_REFRESH_DELAY_MS));
    timer.unref();
    this.timers.set(nodeName, timer);
  }

  /** Requests and writes one token; returns its lifetime in ms. */
  private async writeToken(nodeName: string): Promise<number> {
    const pod = this.options.pods.get(nodeName);
    if (!pod) throw new Error(`no agent pod known for node ${nodeName}`);
    const requestedAt = Date.now();
    const answer = await this.options.core.createNamespacedServiceAccountToken({
      name: AGENT_SERVICE_ACCOUNT,
      namespace: MESH_NAMESPACE,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: [CA_AUDIENCE],
          expirationSeconds: TOKEN_EXPIRATION_SECONDS,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid },
        },
      },
    });
    const token = answer.status?.token;
    const expiresAt = answer.status?.expirationTimestamp;
    if (!token || !expiresAt) throw new Error(`TokenRequest for ${MESH_NAMESPACE}/${AGENT_SERVICE_ACCOUNT} (pod ${pod.name}) returned no token or expiry`);
    const file = agentCaTokenFile(this.options.runDir, nodeName);
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, token, { mode: 0o600 });
    await rename(temporary, file);
    return Math.max(new Date(expiresAt).getTime() - requestedAt, 0);
  }
}
