// Makes the attached programs match the enrolled pods of this node: attach to each enrolled
// pod's cgroup, detach from pods that left the mesh. Links are pinned per pod UID, so after a
// restart the pins tell what is attached: wanted ones are kept (moved to the new programs),
// the rest removed. A pod whose cgroup does not exist yet is retried on the next pass.
import type { Logger } from 'pino';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import type { PodCgroupFinder } from './pod-cgroup-finder.js';
import type { RedirectPrograms } from './redirect-programs.js';

export interface EnrollmentResult {
  attached: number;
  /** Enrolled pods whose cgroup was not found yet. */
  pending: number;
  errors: number;
}

export class EnrollmentReconciler {
  /** UIDs this process has attached (or adopted) since it started, with their strict mode. */
  private readonly current = new Map<string, boolean>();

  constructor(
    private readonly programs: RedirectPrograms,
    private readonly cgroups: PodCgroupFinder,
    private readonly log: Logger,
    private readonly onAttachError: () => void,
  ) {}

  reconcile(snapshot: MeshSnapshot): EnrollmentResult {
    const wanted = new Map(snapshot.enrolledLocalPods.map((pod) => [pod.uid, pod]));
    let pending = 0;
    let errors = 0;
    for (const [uid, pod] of wanted) {
      if (this.current.get(uid) === pod.strict) continue;
      const cgroup = this.cgroups.find(uid);
      if (!cgroup) {
        pending++;
        continue;
      }
      try {
        this.programs.attach(uid, cgroup, { strict: pod.strict });
        this.current.set(uid, pod.strict);
        this.log.info({ pod: `${pod.namespace}/${pod.name}`, uid, cgroup, strict: pod.strict }, 'pod enrolled');
      } catch (err) {
        errors++;
        this.onAttachError();
        this.log.error({ err, pod: `${pod.namespace}/${pod.name}`, cgroup }, 'attaching programs failed');
      }
    }
    for (const uid of this.programs.attachedOwners()) {
      if (wanted.has(uid)) continue;
      try {
        this.programs.detach(uid);
        this.current.delete(uid);
        this.log.info({ uid }, 'pod left the mesh');
      } catch (err) {
        errors++;
        this.onAttachError();
        this.log.error({ err, uid }, 'detaching programs failed');
      }
    }
    return { attached: this.current.size, pending, errors };
  }
}
