// A process that runs the agent's WorkloadIdentities once and then stops it, for the test that
// proves stop() leaves nothing behind: if a timer, socket or gRPC channel survived stop(), this
// process would not exit by itself. Modes: `issue` (start, get a certificate, stop) and `waiting`
// (stop while start() still waits for a trust bundle that never comes). Prints one JSON line per
// step on stdout.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { WorkloadIdentities } from '../../agent/src/identity/workload-identities.js';
import { TrustBundleWatch } from '../../agent/src/k8s/trust-bundle-watch.js';
import { IdentityMetrics } from '../../agent/src/metrics/identity-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import type { AgentCaConfig } from '../../agent/src/config/agent-config.js';
import type { LocalPodRef } from '../../agent/src/state/mesh-snapshot.js';
import { waitFor } from '../support/wait-for.js';
import { snapshotWithPods } from './agent-identity-bed.js';

export interface ChildInput {
  mode: 'issue' | 'waiting';
  kubeconfigPath: string;
  ca: AgentCaConfig;
  nodeName: string;
  pod: LocalPodRef;
  identity: string;
}

function report(event: string, fields: object = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as ChildInput;
  const messages: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(input.kubeconfigPath);
  const identities = new WorkloadIdentities({
    trustDomain: 'cluster.local',
    ca: input.ca,
    trustBundle: new TrustBundleWatch(kubeConfig, input.ca.namespace, log),
    serviceClusterIp: () => undefined,
    metrics: new IdentityMetrics(createMetricsRegistry({ processMetrics: false })),
    log,
  });

  if (input.mode === 'issue') {
    await identities.start();
    identities.update(snapshotWithPods(input.nodeName, [input.pod]));
    await waitFor(() => identities.credentials.secureContextFor(input.identity), { timeoutMs: 60_000, what: `a certificate for ${input.identity}` });
    report('issued', { certificates: identities.certificates() });
    await identities.stop();
    reportStopped();
    return;
  }
  const started = identities.start().then(
    () => 'resolved',
    (err: Error) => `rejected: ${err.message}`,
  );
  await waitFor(() => messages.some((m) => m.startsWith('waiting for the trust bundle')), { timeoutMs: 60_000, what: 'the wait for the trust bundle' });
  report('waiting', { trustBundleLoaded: identities.trustBundleLoaded });
  await identities.stop();
  reportStopped();
  // stop() must end the wait as well, at once: the parent gives the process a few seconds to exit.
  report('start settled', { outcome: await started });
}

/** What is still open right after stop(); the parent shows it if this process does not exit. */
function reportStopped(): void {
  report('stopped', { activeResources: process.getActiveResourcesInfo() });
}

main().catch((err: unknown) => {
  report('failed', { error: err instanceof Error ? err.stack : String(err) });
  process.exitCode = 1;
});
