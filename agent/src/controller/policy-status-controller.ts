// The one writer of authorization policy status. It watches both policy kinds and Services,
// and, while it leads, writes each policy's `status.conditions` (authz/policy-status.ts) through
// the status subresource whenever they differ from what is stored. Agents never write status:
// with N nodes, N writers would fight over it.
import { CustomObjectsApi, type KubeConfig, type KubernetesObject, CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AUTHZ_GROUP, AUTHZ_VERSION, type PolicyKind } from '../authz/policy-definition.js';
import { policyConditions, type PolicyCondition } from '../authz/policy-status.js';
import { validatePolicyOnce } from '../authz/policy-validation.js';
import { isApiStatus } from '../k8s/api-status.js';
import { OptionalResourceInformer } from '../k8s/optional-resource-informer.js';
import { RestartingInformer } from '../k8s/restarting-informer.js';
import type { Service } from '../k8s/kube-types.js';

type PolicyObject = KubernetesObject & { status?: { conditions?: (PolicyCondition & { lastTransitionTime?: string })[] } };

const KINDS: readonly { kind: PolicyKind; plural: string }[] = [
  { kind: 'AuthorizationPolicy', plural: 'authorizationpolicies' },
  { kind: 'ClusterAuthorizationPolicy', plural: 'clusterauthorizationpolicies' },
];

export class PolicyStatusController {
  private readonly custom: CustomObjectsApi;
  private readonly policyInformers: Map<PolicyKind, OptionalResourceInformer<PolicyObject>>;
  private readonly services: RestartingInformer<Service>;
  private leading = false;
  private scheduled = false;
  private running: Promise<void> | undefined;
  /** Status writes done (tests and logs read it). */
  writes = 0;

  constructor(kubeConfig: KubeConfig, private readonly log: Logger) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const informerLog = (msg: string, fields?: object) => log.warn(fields ?? {}, msg);
    this.policyInformers = new Map(KINDS.map(({ kind, plural }) => [kind, new OptionalResourceInformer<PolicyObject>({
      kubeConfig, name: plural, log: informerLog, path: `/apis/${AUTHZ_GROUP}/${AUTHZ_VERSION}/${plural}`,
      list: async () => (await this.custom.listClusterCustomObject({ group: AUTHZ_GROUP, version: AUTHZ_VERSION, plural })) as { items: PolicyObject[] },
    })]));
    this.services = new RestartingInformer<Service>({
      kubeConfig, name: 'services', log: informerLog, path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
    });
    for (const informer of [...this.policyInformers.values(), this.services] as Pick<RestartingInformer<KubernetesObject>, 'on'>[]) {
      for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, () => this.schedule());
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.policyInformers.values(), this.services].map((informer) => informer.start()));
  }

  synced(): boolean {
    return [...this.policyInformers.values(), this.services].every((informer) => informer.hasSynced());
  }

  /** Leader election says whether this replica writes. */
  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) this.schedule();
  }

  async stop(): Promise<void> {
    this.leading = false;
    await Promise.all([...this.policyInformers.values(), this.services].map((informer) => informer.stop()));
    await this.running;
  }

  /** Resolves once no reconcile is scheduled or running (tests). */
  async idle(): Promise<void> {
    while (this.scheduled || this.running) await (this.running ?? new Promise((resolve) => setImmediate(resolve)));
  }

  private schedule(): void {
    if (this.scheduled || !this.leading) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running) {
        // One at a time; what changed meanwhile is picked up by one more pass.
        void this.running.then(() => this.schedule());
        return;
      }
      this.running = this.reconcile().finally(() => (this.running = undefined));
    });
  }

  private async reconcile(): Promise<void> {
    if (!this.leading || !this.synced()) return;
    const serviceExists = (namespace: string, name: string): boolean => this.services.get(name, namespace) !== undefined;
    for (const { kind, plural } of KINDS) {
      for (const object of this.policyInformers.get(kind)!.list()) {
        if (!this.leading) return;
        const definition = validatePolicyOnce(kind, object);
        const generation = object.metadata?.generation ?? 0;
        const wanted = policyConditions(definition, generation, serviceExists);
        const current = object.status?.conditions ?? [];
        if (sameConditions(current, wanted)) continue;
        const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        const conditions = wanted.map((c) => {
          const before = current.find((p) => p.type === c.type);
          return { ...c, lastTransitionTime: before !== undefined && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now };
        });
        await this.writeStatus(kind, plural, object, conditions);
      }
    }
  }

  private async writeStatus(kind: PolicyKind, plural: string, object: PolicyObject, conditions: object[]): Promise<void> {
    const name = object.metadata!.name!;
    const namespace = object.metadata?.namespace;
    const body = { ...object, status: { ...(object.status ?? {}), conditions } };
    try {
      if (namespace) await this.custom.replaceNamespacedCustomObjectStatus({ group: AUTHZ_GROUP, version: AUTHZ_VERSION, namespace, plural, name, body });
      else await this.custom.replaceClusterCustomObjectStatus({ group: AUTHZ_GROUP, version: AUTHZ_VERSION, plural, name, body });
      this.writes++;
    } catch (err) {
      // Changed or deleted meanwhile: its next event brings another pass.
      if (isApiStatus(err, 409) || isApiStatus(err, 404)) return;
      this.log.warn({ err, policy: `${kind}/${namespace ?? ''}/${name}` }, 'writing policy status failed; retrying');
      setTimeout(() => this.schedule(), 1000).unref();
    }
  }
}

function sameConditions(current: readonly PolicyCondition[], wanted: readonly PolicyCondition[]): boolean {
  return current.length === wanted.length && wanted.every((w) => current.some((c) =>
    c.type === w.type && c.status === w.status && c.reason === w.reason && c.message === w.message && c.observedGeneration === w.observedGeneration));
}
