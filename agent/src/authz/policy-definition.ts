// Weft's authorization policies after validation: what the table builder and the evaluator read.
// Plain data (structured-clone safe: proxy workers receive it inside the snapshot). A rule the
// agent cannot apply is kept with `broken` set and its problem recorded, so enforcement can fail
// closed on it (policy-validation.ts says how) instead of dropping it.
import type { LabelSelector } from '../k8s/label-selector.js';

export const AUTHZ_GROUP = 'weft.io';
export const AUTHZ_VERSION = 'v1alpha1';
export const DRY_RUN_ANNOTATION = 'weft.io/dry-run';

export type PolicyKind = 'AuthorizationPolicy' | 'ClusterAuthorizationPolicy';
export type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'PASS';
export type ClusterTier = 'Admin' | 'Baseline';

/** One field the agent could not apply: `field` is the path from the object root. */
export interface PolicyProblem {
  field: string;
  message: string;
}

export type SourceDefinition =
  | { kind: 'serviceAccount'; namespace: string; name: string }
  | { kind: 'spiffe'; id: string }
  | { kind: 'namespaceSelector'; selector: LabelSelector }
  | { kind: 'ipBlock'; cidr: string; except: string[] };

export type StringMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression';

export interface PathMatch {
  type: StringMatchType;
  value: string;
}

export interface HeaderMatch {
  /** Lower case. */
  name: string;
  type: 'Exact' | 'RegularExpression';
  value: string;
}

export interface HttpMatch {
  methods: string[] | null;
  paths: PathMatch[] | null;
  headers: HeaderMatch[] | null;
}

export interface GrpcMatch {
  service: string;
  method: string | null;
}

export interface RuleDefinition {
  /** null: any source. */
  sources: SourceDefinition[] | null;
  /** null: any port. Destination (pod) ports. */
  ports: number[] | null;
  http: HttpMatch | null;
  /** null: no gRPC condition; otherwise the request must be one of these calls. */
  grpc: GrpcMatch[] | null;
  /** The rule has a problem: an ALLOW rule then allows nothing; a DENY or PASS policy denies everything. */
  broken: boolean;
}

export type TargetDefinition =
  | { kind: 'Service'; name: string }
  | { kind: 'Pod'; selector: LabelSelector };

export interface PolicyDefinition {
  /** `<kind>/<namespace>/<name>`; cluster policies have an empty namespace. The metric's `policy` label. */
  id: string;
  kind: PolicyKind;
  namespace: string;
  name: string;
  action: PolicyAction;
  /** `weft.io/dry-run: "true"`: evaluated and counted, never enforced. */
  dryRun: boolean;
  /** Namespaced policies: null = every enrolled workload of the namespace. */
  targets: TargetDefinition[] | null;
  /** Cluster policies only. */
  tier: ClusterTier | null;
  priority: number;
  subject: { namespaceSelector: LabelSelector; podSelector: LabelSelector | null } | null;
  /** null: every request; []: none. */
  rules: RuleDefinition[] | null;
  /** Set when the policy as a whole cannot be applied (bad action, bad target): see `problems`. */
  broken: boolean;
  problems: PolicyProblem[];
}
