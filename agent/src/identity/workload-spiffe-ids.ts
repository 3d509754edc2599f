// The SPIFFE ID of a workload object (a snapshot's PodInfo, a SourceWorkload), formatted once per
// object and cached by identity: snapshots keep unchanged pods as the same objects, so the data
// path never formats an identity string per connection or per request.
import { formatWorkloadSpiffeId } from './spiffe-id.js';

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly serviceAccount: string;
}

export class WorkloadSpiffeIds {
  private readonly ids = new WeakMap<ServiceAccountRef, string>();

  constructor(readonly trustDomain: string) {}

  of(workload: ServiceAccountRef): string {
    let id = this.ids.get(workload);
    if (id === undefined) {
      id = formatWorkloadSpiffeId({ trustDomain: this.trustDomain, namespace: workload.namespace, serviceAccount: workload.serviceAccount });
      this.ids.set(workload, id);
    }
    return id;
  }
}
