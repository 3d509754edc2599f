// The status conditions of an authorization policy, as the one status writer (weft controller)
// publishes them: `Accepted` says whether every part of the policy is enforced as written (and,
// when not, how it is enforced instead: fail closed), `ResolvedRefs` whether its target Services
// exist. Behaviour that could surprise is said here too, never silently: a DENY rule with request
// conditions denies streams that are not HTTP. Pure: the controller compares and writes.
import type { PolicyDefinition } from './policy-definition.js';

export interface PolicyCondition {
  type: 'Accepted' | 'ResolvedRefs';
  status: 'True' | 'False';
  reason: string;
  message: string;
  observedGeneration: number;
}

export function policyConditions(
  policy: PolicyDefinition,
  generation: number,
  serviceExists: (namespace: string, name: string) => boolean,
): PolicyCondition[] {
  const notes: string[] = [];
  if (policy.dryRun) notes.push('dry-run: evaluated and counted (weft_authz_decisions_total{dry_run="true"}), not enforced');
  if (policy.action === 'DENY' || policy.action === 'PASS') {
    (policy.rules ?? []).forEach((rule, i) => {
      if (!rule.broken && (rule.http !== null || rule.grpc !== null)) {
        notes.push(`spec.rules[${i}] has request conditions: connections that are not HTTP${rule.ports ? ` on ports ${rule.ports.join(',')}` : ''} are denied by it`);
      }
    });
  }
  let accepted: PolicyCondition;
  if (policy.problems.length === 0) {
    accepted = { type: 'Accepted', status: 'True', reason: 'Accepted', message: ['enforced as written', ...notes].join('; '), observedGeneration: generation };
  } else {
    const failClosed = policy.broken || policy.action === 'DENY' || policy.action === 'PASS'
      ? 'enforced fail-closed: every request to the policy\'s targets is denied'
      : 'enforced fail-closed: the rules named here allow nothing';
    accepted = {
      type: 'Accepted',
      status: 'False',
      reason: 'Invalid',
      message: [...policy.problems.map((p) => `${p.field}: ${p.message}`), failClosed, ...notes].join('; '),
      observedGeneration: generation,
    };
  }
  const missing = (policy.targets ?? [])
    .filter((t): t is { kind: 'Service'; name: string } => t.kind === 'Service' && !serviceExists(policy.namespace, t.name))
    .map((t) => `Service ${policy.namespace}/${t.name} not found`);
  const resolved: PolicyCondition = missing.length === 0
    ? { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'every target exists', observedGeneration: generation }
    : { type: 'ResolvedRefs', status: 'False', reason: 'TargetNotFound', message: `${missing.join('; ')}: it selects no pod until it exists`, observedGeneration: generation };
  return [accepted, resolved];
}
