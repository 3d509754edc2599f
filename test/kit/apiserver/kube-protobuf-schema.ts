// Field numbers of the Kubernetes protobuf messages (k8s.io/api generated.proto) that kubectl's
// generators send: `kubectl create namespace|configmap|secret|serviceaccount|service`,
// `kubectl run`, `kubectl create role|clusterrole|rolebinding|clusterrolebinding`, `kubectl auth can-i`,
// and the DeleteOptions helm sends. A field missing here makes the decoder refuse the body with a clear 415, so
// the client can be pointed at JSON instead of the server silently dropping data.

export type ScalarType = 'string' | 'bytes' | 'bool' | 'int' | 'time' | 'quantity' | 'intOrString';

export interface FieldDef {
  name: string;
  type: ScalarType | { message: string } | { map: ScalarType };
  repeated?: boolean;
  /** Pointer fields in Go: present on the wire only when set, so a zero value is meaningful. */
  keepZero?: boolean;
}

export type MessageDef = Record<number, FieldDef>;

const s = (name: string): FieldDef => ({ name, type: 'string' });
const rs = (name: string): FieldDef => ({ name, type: 'string', repeated: true });
const b = (name: string, keepZero = false): FieldDef => ({ name, type: 'bool', keepZero });
const i = (name: string, keepZero = false): FieldDef => ({ name, type: 'int', keepZero });
const m = (name: string, message: string): FieldDef => ({ name, type: { message } });
const rm = (name: string, message: string): FieldDef => ({ name, type: { message }, repeated: true });
const map = (name: string, value: ScalarType): FieldDef => ({ name, type: { map: value } });

export const kubeMessages: Record<string, MessageDef> = {
  // k8s.io/apimachinery/pkg/apis/meta/v1
  ObjectMeta: {
    1: s('name'), 2: s('generateName'), 3: s('namespace'), 4: s('selfLink'), 5: s('uid'), 6: s('resourceVersion'),
    7: i('generation'), 8: { name: 'creationTimestamp', type: 'time' }, 9: { name: 'deletionTimestamp', type: 'time' },
    10: i('deletionGracePeriodSeconds', true), 11: map('labels', 'string'), 12: map('annotations', 'string'),
    13: rm('ownerReferences', 'OwnerReference'), 14: rs('finalizers'), 17: rm('managedFields', 'ManagedFieldsEntry'),
  },
  OwnerReference: { 5: s('apiVersion'), 1: s('kind'), 3: s('name'), 4: s('uid'), 6: b('controller', true), 7: b('blockOwnerDeletion', true) },
  ManagedFieldsEntry: { 1: s('manager'), 2: s('operation'), 3: s('apiVersion'), 4: { name: 'time', type: 'time' }, 6: s('fieldsType'), 8: s('subresource') },
  DeleteOptions: { 1: i('gracePeriodSeconds', true), 2: m('preconditions', 'Preconditions'), 3: b('orphanDependents', true), 4: s('propagationPolicy'), 5: rs('dryRun') },
  Preconditions: { 1: s('uid'), 2: s('resourceVersion') },
  // k8s.io/api/core/v1
  Namespace: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'NamespaceSpec'), 3: m('status', 'NamespaceStatus') },
  NamespaceSpec: { 1: rs('finalizers') },
  NamespaceStatus: { 1: s('phase') },
  ConfigMap: { 1: m('metadata', 'ObjectMeta'), 2: map('data', 'string'), 3: map('binaryData', 'bytes'), 4: b('immutable', true) },
  Secret: { 1: m('metadata', 'ObjectMeta'), 2: map('data', 'bytes'), 3: s('type'), 4: map('stringData', 'string'), 5: b('immutable', true) },
  ServiceAccount: { 1: m('metadata', 'ObjectMeta'), 2: rm('secrets', 'ObjectReference'), 3: rm('imagePullSecrets', 'LocalObjectReference'), 4: b('automountServiceAccountToken', true) },
  ObjectReference: { 1: s('kind'), 2: s('namespace'), 3: s('name'), 4: s('uid'), 5: s('apiVersion'), 6: s('resourceVersion'), 7: s('fieldPath') },
  LocalObjectReference: { 1: s('name') },
  Service: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'ServiceSpec'), 3: m('status', 'ServiceStatus') },
  ServiceSpec: {
    1: rm('ports', 'ServicePort'), 2: map('selector', 'string'), 3: s('clusterIP'), 4: s('type'), 5: rs('externalIPs'),
    7: s('sessionAffinity'), 8: s('loadBalancerIP'), 9: rs('loadBalancerSourceRanges'), 10: s('externalName'),
    11: s('externalTrafficPolicy'), 12: i('healthCheckNodePort'), 13: b('publishNotReadyAddresses'),
    17: s('ipFamilyPolicy'), 18: rs('clusterIPs'), 19: rs('ipFamilies'), 20: b('allocateLoadBalancerNodePorts', true),
    21: s('loadBalancerClass'), 22: s('internalTrafficPolicy'), 23: s('trafficDistribution'),
  },
  ServicePort: { 1: s('name'), 2: s('protocol'), 3: i('port', true), 4: { name: 'targetPort', type: 'intOrString' }, 5: i('nodePort'), 6: s('appProtocol') },
  ServiceStatus: { 1: m('loadBalancer', 'LoadBalancerStatus') },
  LoadBalancerStatus: {},
  Pod: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'PodSpec'), 3: m('status', 'PodStatus') },
  PodSpec: {
    2: rm('containers', 'Container'), 3: s('restartPolicy'), 4: i('terminationGracePeriodSeconds', true), 5: i('activeDeadlineSeconds', true),
    6: s('dnsPolicy'), 7: map('nodeSelector', 'string'), 8: s('serviceAccountName'), 9: s('serviceAccount'), 10: s('nodeName'),
    11: b('hostNetwork'), 12: b('hostPID'), 13: b('hostIPC'), 14: m('securityContext', 'PodSecurityContext'),
    15: rm('imagePullSecrets', 'LocalObjectReference'), 16: s('hostname'), 17: s('subdomain'), 19: s('schedulerName'),
    20: rm('initContainers', 'Container'), 21: b('automountServiceAccountToken', true), 24: s('priorityClassName'), 25: i('priority', true),
    30: b('enableServiceLinks', true), 31: s('preemptionPolicy'),
  },
  PodSecurityContext: {},
  PodStatus: { 1: s('phase') },
  Container: {
    1: s('name'), 2: s('image'), 3: rs('command'), 4: rs('args'), 5: s('workingDir'), 6: rm('ports', 'ContainerPort'),
    7: rm('env', 'EnvVar'), 8: m('resources', 'ResourceRequirements'), 13: s('terminationMessagePath'), 14: s('imagePullPolicy'),
    16: b('stdin'), 17: b('stdinOnce'), 18: b('tty'), 20: s('terminationMessagePolicy'),
  },
  ContainerPort: { 1: s('name'), 2: i('hostPort'), 3: i('containerPort', true), 4: s('protocol'), 5: s('hostIP') },
  EnvVar: { 1: s('name'), 2: s('value') },
  ResourceRequirements: { 1: map('limits', 'quantity'), 2: map('requests', 'quantity') },
  // k8s.io/api/authentication/v1 (`kubectl create token`; Go clients reviewing tokens)
  TokenRequest: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'TokenRequestSpec'), 3: m('status', 'TokenRequestStatus') },
  TokenRequestSpec: { 1: rs('audiences'), 4: i('expirationSeconds', true), 3: m('boundObjectRef', 'BoundObjectReference') },
  BoundObjectReference: { 1: s('kind'), 2: s('apiVersion'), 3: s('name'), 4: s('uid') },
  TokenRequestStatus: { 1: s('token'), 2: { name: 'expirationTimestamp', type: 'time' } },
  TokenReview: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'TokenReviewSpec'), 3: m('status', 'TokenReviewStatus') },
  TokenReviewSpec: { 1: s('token'), 2: rs('audiences') },
  TokenReviewStatus: {},
  // k8s.io/api/authorization/v1 (`kubectl auth can-i [--list]`)
  SelfSubjectAccessReview: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'SelfSubjectAccessReviewSpec'), 3: m('status', 'SubjectAccessReviewStatus') },
  SelfSubjectAccessReviewSpec: { 1: m('resourceAttributes', 'ResourceAttributes'), 2: m('nonResourceAttributes', 'NonResourceAttributes') },
  SubjectAccessReview: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'SubjectAccessReviewSpec'), 3: m('status', 'SubjectAccessReviewStatus') },
  SubjectAccessReviewSpec: { 1: m('resourceAttributes', 'ResourceAttributes'), 2: m('nonResourceAttributes', 'NonResourceAttributes'), 3: s('user'), 4: rs('groups'), 6: s('uid') },
  ResourceAttributes: { 1: s('namespace'), 2: s('verb'), 3: s('group'), 4: s('version'), 5: s('resource'), 6: s('subresource'), 7: s('name') },
  NonResourceAttributes: { 1: s('path'), 2: s('verb') },
  SubjectAccessReviewStatus: { 1: b('allowed'), 2: s('reason'), 3: s('evaluationError'), 4: b('denied') },
  SelfSubjectRulesReview: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'SelfSubjectRulesReviewSpec'), 3: m('status', 'SubjectRulesReviewStatus') },
  SelfSubjectRulesReviewSpec: { 1: s('namespace') },
  SubjectRulesReviewStatus: { 1: rm('resourceRules', 'ResourceRule'), 2: rm('nonResourceRules', 'NonResourceRule'), 3: b('incomplete'), 4: s('evaluationError') },
  ResourceRule: { 1: rs('verbs'), 2: rs('apiGroups'), 3: rs('resources'), 4: rs('resourceNames') },
  NonResourceRule: { 1: rs('verbs'), 2: rs('nonResourceURLs') },
  // k8s.io/api/rbac/v1 (`kubectl create role|clusterrole|rolebinding|clusterrolebinding`)
  Role: { 1: m('metadata', 'ObjectMeta'), 2: rm('rules', 'PolicyRule') },
  ClusterRole: { 1: m('metadata', 'ObjectMeta'), 2: rm('rules', 'PolicyRule') },
  PolicyRule: { 1: rs('verbs'), 2: rs('apiGroups'), 3: rs('resources'), 4: rs('resourceNames'), 5: rs('nonResourceURLs') },
  RoleBinding: { 1: m('metadata', 'ObjectMeta'), 2: rm('subjects', 'Subject'), 3: m('roleRef', 'RoleRef') },
  ClusterRoleBinding: { 1: m('metadata', 'ObjectMeta'), 2: rm('subjects', 'Subject'), 3: m('roleRef', 'RoleRef') },
  Subject: { 1: s('kind'), 2: s('apiGroup'), 3: s('name'), 4: s('namespace') },
  RoleRef: { 1: s('apiGroup'), 2: s('kind'), 3: s('name') },
};

/** The top-level message for each kind kubectl's generators create. */
export const messageForKind: Record<string, string> = {
  Namespace: 'Namespace',
  ConfigMap: 'ConfigMap',
  Secret: 'Secret',
  ServiceAccount: 'ServiceAccount',
  Service: 'Service',
  Pod: 'Pod',
  TokenRequest: 'TokenRequest',
  TokenReview: 'TokenReview',
  // helm sends the DeleteOptions of a delete in protobuf when it purges its release Secrets.
  DeleteOptions: 'DeleteOptions',
  SelfSubjectAccessReview: 'SelfSubjectAccessReview',
  SubjectAccessReview: 'SubjectAccessReview',
  SelfSubjectRulesReview: 'SelfSubjectRulesReview',
  Role: 'Role',
  ClusterRole: 'ClusterRole',
  RoleBinding: 'RoleBinding',
  ClusterRoleBinding: 'ClusterRoleBinding',
};

/** Fields a Go struct serializes even when empty (non-omitempty JSON); kept as empty objects. */
export const keepEmptyMessages = new Set(['resources', 'status', 'spec', 'loadBalancer', 'securityContext']);
