// The agent's view of the cluster: informers over Namespaces, this node's Pods, all Pods (for
// the identity of remote endpoints), Services, EndpointSlices, Nodes and Weft's authorization
// policies. A policy kind whose CRD is not installed counts as synced and empty (without the CRD
// no policy can exist), and is asked again until the CRD appears (optional-resource-informer.ts). Informers restart
// themselves when a watch fails, and the caches keep their last known content while the API
// server is unreachable, so the node keeps enforcing what it knew.
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AUTHZ_GROUP, AUTHZ_VERSION } from '../authz/policy-definition.js';
import { OptionalResourceInformer } from './optional-resource-informer.js';
import { RestartingInformer } from './restarting-informer.js';
import type { EndpointSlice, Namespace, Node, Pod, Service } from './kube-types.js';

export interface ClusterCaches {
  namespaces(): readonly Namespace[];
  localPods(): readonly Pod[];
  allPods(): readonly Pod[];
  services(): readonly Service[];
  endpointSlices(): readonly EndpointSlice[];
  nodes(): readonly Node[];
  authorizationPolicies(): readonly KubernetesObject[];
  clusterAuthorizationPolicies(): readonly KubernetesObject[];
}

export class ClusterWatch implements ClusterCaches {
  private readonly namespaceInformer: RestartingInformer<Namespace>;
  private readonly localPodInformer: RestartingInformer<Pod>;
  private readonly podInformer: RestartingInformer<Pod>;
  private readonly serviceInformer: RestartingInformer<Service>;
  private readonly sliceInformer: RestartingInformer<EndpointSlice>;
  private readonly nodeInformer: RestartingInformer<Node>;
  private readonly policyInformer: OptionalResourceInformer<KubernetesObject>;
  private readonly clusterPolicyInformer: OptionalResourceInformer<KubernetesObject>;
  private readonly all: Pick<RestartingInformer<KubernetesObject>, 'on' | 'start' | 'stop' | 'hasSynced'>[];
  private listeners: (() => void)[] = [];

  constructor(kubeConfig: KubeConfig, nodeName: string, log: Logger) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const informerLog = (msg: string, fields?: object) => log.warn(fields ?? {}, msg);
    const nodeSelector = `spec.nodeName=${nodeName}`;
    this.namespaceInformer = new RestartingInformer<Namespace>({
      kubeConfig, name: 'namespaces', log: informerLog, path: '/api/v1/namespaces',
      list: () => core.listNamespace(),
    });
    this.localPodInformer = new RestartingInformer<Pod>({
      kubeConfig, name: 'local-pods', log: informerLog, path: '/api/v1/pods', fieldSelector: nodeSelector,
      list: () => core.listPodForAllNamespaces({ fieldSelector: nodeSelector }),
    });
    this.podInformer = new RestartingInformer<Pod>({
      kubeConfig, name: 'pods', log: informerLog, path: '/api/v1/pods',
      list: () => core.listPodForAllNamespaces(),
    });
    this.serviceInformer = new RestartingInformer<Service>({
      kubeConfig, name: 'services', log: informerLog, path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
    });
    this.sliceInformer = new RestartingInformer<EndpointSlice>({
      kubeConfig, name: 'endpointslices', log: informerLog, path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => discovery.listEndpointSliceForAllNamespaces(),
    });
    this.nodeInformer = new RestartingInformer<Node>({
      kubeConfig, name: 'nodes', log: informerLog, path: '/api/v1/nodes',
      list: () => core.listNode(),
    });
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const listPolicies = (plural: string) => async () =>
      (await custom.listClusterCustomObject({ group: AUTHZ_GROUP, version: AUTHZ_VERSION, plural })) as { items: KubernetesObject[]; metadata?: { resourceVersion?: string } };
    this.policyInformer = new OptionalResourceInformer<KubernetesObject>({
      kubeConfig, name: 'authorizationpolicies', log: informerLog, path: '/apis/weft.io/v1alpha1/authorizationpolicies',
      list: listPolicies('authorizationpolicies'),
    });
    this.clusterPolicyInformer = new OptionalResourceInformer<KubernetesObject>({
      kubeConfig, name: 'clusterauthorizationpolicies', log: informerLog, path: '/apis/weft.io/v1alpha1/clusterauthorizationpolicies',
      list: listPolicies('clusterauthorizationpolicies'),
    });
    this.all = [
      this.namespaceInformer, this.localPodInformer, this.podInformer,
      this.serviceInformer, this.sliceInformer, this.nodeInformer,
      this.policyInformer, this.clusterPolicyInformer,
    ] as Pick<RestartingInformer<KubernetesObject>, 'on' | 'start' | 'stop' | 'hasSynced'>[];
    const notify = () => {
      for (const listener of this.listeners) listener();
    };
    for (const informer of this.all) {
      informer.on('add', notify);
      informer.on('update', notify);
      informer.on('delete', notify);
    }
  }

  /** Called after any cached object changed (callers coalesce). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Resolves once every informer has listed and is watching. */
  async start(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.start()));
  }

  synced(): boolean {
    return this.all.every((informer) => informer.hasSynced());
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.stop()));
  }

  namespaces() { return this.namespaceInformer.list(); }
  localPods() { return this.localPodInformer.list(); }
  allPods() { return this.podInformer.list(); }
  services() { return this.serviceInformer.list(); }
  /** One Service's ClusterIP (e.g. the CA's), undefined when unknown or headless. */
  serviceClusterIp(namespace: string, name: string): string | undefined {
    const ip = this.serviceInformer.get(name, namespace)?.spec?.clusterIP;
    return ip && ip !== 'None' ? ip : undefined;
  }
  endpointSlices() { return this.sliceInformer.list(); }
  nodes() { return this.nodeInformer.list(); }
  authorizationPolicies() { return this.policyInformer.list(); }
  clusterAuthorizationPolicies() { return this.clusterPolicyInformer.list(); }
}
