// The Kubernetes object types the rest of the agent reads. Only k8s/ imports the client
// library; other layers take these types from here.
export type {
  V1Namespace as Namespace,
  V1Pod as Pod,
  V1Service as Service,
  V1Node as Node,
  V1EndpointSlice as EndpointSlice,
} from '@kubernetes/client-node';
