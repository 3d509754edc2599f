// Authorization decisions at the destination, counted where they are made (proxy workers; the
// control thread sums the workers' registries into the node's page). Series are bounded by the
// cluster's policies, service accounts and local workloads. Only workloads that some policy
// selects are counted: without a policy there is no decision to report.
import { Counter, type Registry } from 'prom-client';

export type AuthzDecisionLabel = 'allow' | 'deny' | 'audit';

export interface AuthzDecisionCount {
  decision: AuthzDecisionLabel;
  policy: string;
  dryRun: boolean;
  sourcePrincipal: string;
  destinationWorkload: string;
  destinationNamespace: string;
}

export class AuthzMetrics {
  private readonly decisions: Counter<string>;

  constructor(registry: Registry) {
    this.decisions = new Counter({
      name: 'weft_authz_decisions_total',
      help: 'Authorization decisions for connections and requests to this node\'s workloads, by deciding policy ("default" when none decided); dry_run="true" counts what dry-run policies would have decided, decision="audit" the matches of AUDIT policies',
      labelNames: ['reporter', 'decision', 'policy', 'dry_run', 'source_principal', 'destination_workload', 'destination_namespace'],
      registers: [registry],
    });
  }

  count(c: AuthzDecisionCount): void {
    this.decisions.labels('destination', c.decision, c.policy, String(c.dryRun), c.sourcePrincipal, c.destinationWorkload, c.destinationNamespace).inc();
  }
}
