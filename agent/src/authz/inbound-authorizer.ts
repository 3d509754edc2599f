// Authorization where identity is proven: the HBONE server asks this for every tunnelled
// connection (at CONNECT, before the pod is dialled), for the stream once it is known not to be
// HTTP, and for every HTTP request on it. Each answer reads the current snapshot, so a policy
// change applies to requests on connections that are already open. Decisions are counted and
// every denial is logged (at most a few lines per second; the rest are counted in the next line).
import type { Logger } from 'pino';
import type { AuthzMetrics } from '../metrics/authz-metrics.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import type { WorkloadAuthz } from './authz-table.js';
import { evaluateAuthz, type AuthzDecision, type AuthzSource, type HttpFacts } from './authz-evaluator.js';

const DENIAL_LOG_LINES_PER_SECOND = 5;

/** What a tunnel carries for its later questions. */
export interface TunnelAuthz {
  readonly source: AuthzSource & { kind: 'mesh' };
  readonly podIp: string;
  readonly port: number;
}

/** The authorizer and what it needs to know about one tunnel (what the HTTP deliveries get). */
export interface TunnelPolicy {
  readonly authorizer: InboundAuthorizer;
  readonly authz: TunnelAuthz;
}

/** A decision with the policies it was made against. */
interface Decided {
  workload: WorkloadAuthz;
  decision: AuthzDecision;
}

export class InboundAuthorizer {
  private logWindowStart = 0;
  private logLinesInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly currentSnapshot: () => MeshSnapshot,
    private readonly metrics: AuthzMetrics,
    private readonly log: Logger,
  ) {}

  /** For a verified peer's CONNECT to a local pod: 'deny' ends it here; otherwise the tunnel keeps the context. */
  atConnect(tunnel: TunnelAuthz): 'allow' | 'deny' {
    const decided = this.decide(tunnel, 'pending');
    if (decided === undefined || decided.decision.decision !== 'deny') return 'allow';
    this.record(tunnel, decided, 'connection');
    return 'deny';
  }

  /** The stream is not HTTP (opaque TCP): request conditions cannot be checked on it. */
  opaqueStream(tunnel: TunnelAuthz): 'allow' | 'deny' {
    const decided = this.decide(tunnel, 'not-http');
    if (decided === undefined) return 'allow';
    this.record(tunnel, decided, 'connection');
    return decided.decision.decision === 'deny' ? 'deny' : 'allow';
  }

  /**
   * Whether any policy selects the tunnel's pod now: callers ask before building a request's
   * facts, so a request to a workload without policies costs one map lookup and no allocation.
   */
  selects(tunnel: TunnelAuthz): boolean {
    return this.currentSnapshot().authz.byPodIp.has(tunnel.podIp);
  }

  /** One parsed HTTP request on the tunnel. */
  request(tunnel: TunnelAuthz, http: HttpFacts): 'allow' | 'deny' {
    const decided = this.decide(tunnel, http);
    if (decided === undefined) return 'allow';
    this.record(tunnel, decided, `${http.method} ${http.target.slice(0, 200)}`);
    return decided.decision.decision === 'deny' ? 'deny' : 'allow';
  }

  private decide(tunnel: TunnelAuthz, http: HttpFacts | 'pending' | 'not-http'): Decided | undefined {
    const workload = this.currentSnapshot().authz.byPodIp.get(tunnel.podIp);
    if (workload === undefined) return undefined;
    return { workload, decision: evaluateAuthz(workload, { source: tunnel.source, port: tunnel.port, http }) };
  }

  private record(tunnel: TunnelAuthz, { workload, decision: d }: Decided, what: string): void {
    const base = { sourcePrincipal: tunnel.source.spiffeId, destinationWorkload: workload.workload, destinationNamespace: workload.namespace };
    if (d.decision !== 'pending') this.metrics.count({ ...base, decision: d.decision, policy: d.policy, dryRun: false });
    if (d.wouldBe !== null && d.wouldBe.decision !== 'pending') this.metrics.count({ ...base, decision: d.wouldBe.decision, policy: d.wouldBe.policy, dryRun: true });
    for (const policy of d.audited) this.metrics.count({ ...base, decision: 'audit', policy, dryRun: false });
    if (d.decision === 'deny') this.logDenial(tunnel, workload, d, what);
  }

  private logDenial(tunnel: TunnelAuthz, workload: WorkloadAuthz, d: AuthzDecision, what: string): void {
    const now = Date.now();
    if (now - this.logWindowStart >= 1000) {
      this.logWindowStart = now;
      this.logLinesInWindow = 0;
    }
    if (this.logLinesInWindow >= DENIAL_LOG_LINES_PER_SECOND) {
      this.suppressed++;
      return;
    }
    this.logLinesInWindow++;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.info({
      subsys: 'authz',
      source: tunnel.source.spiffeId,
      destination: `${workload.namespace}/${workload.workload}`,
      pod: `${tunnel.podIp}:${tunnel.port}`,
      what,
      policy: d.policy,
      rule: d.rule,
      reason: d.reason,
      ...(suppressed > 0 ? { suppressedDenials: suppressed } : {}),
    }, 'denied by authorization policy');
  }
}
