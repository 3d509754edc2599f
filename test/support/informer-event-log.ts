// Records what a client-node informer delivered, so tests can wait for "pod x was added" and
// later assert on the whole sequence (an event that must never arrive, an event delivered twice).
import type { KubernetesObject, ObjectCallback } from '@kubernetes/client-node';
import { waitFor } from './wait-for.js';

export type InformerVerb = 'add' | 'update' | 'delete';

export interface RecordedInformerEvent<T extends KubernetesObject> {
  verb: InformerVerb;
  name: string;
  namespace: string | undefined;
  object: T;
}

interface EventSource<T extends KubernetesObject> {
  on(verb: InformerVerb, callback: ObjectCallback<T>): void;
}

export class InformerEventLog<T extends KubernetesObject> {
  readonly events: RecordedInformerEvent<T>[] = [];

  constructor(informer: EventSource<T>) {
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, (object) => {
        this.events.push({
          verb,
          name: object.metadata?.name ?? '',
          namespace: object.metadata?.namespace,
          object,
        });
      });
    }
  }

  /** Events of one object, optionally of one verb. */
  of(name: string, verb?: InformerVerb): RecordedInformerEvent<T>[] {
    return this.events.filter((e) => e.name === name && (verb === undefined || e.verb === verb));
  }

  /** Waits for an event of `verb` for `name` (that satisfies `matches`) and returns it. */
  waitFor(
    verb: InformerVerb,
    name: string,
    matches: (object: T) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<RecordedInformerEvent<T>> {
    return waitFor(() => this.of(name, verb).find((e) => matches(e.object)), {
      timeoutMs,
      what: `informer event ${verb} ${name}`,
    });
  }
}
