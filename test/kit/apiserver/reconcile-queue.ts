// A tiny work queue for the built-in controllers: keys are coalesced and handled on a later
// turn of the event loop, never inside the store write that triggered them, so watchers always
// see an object's events in order (ADDED before the controller's MODIFIED).

export class ReconcileQueue {
  private readonly pending = new Set<string>();
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly reconcile: (key: string) => void,
    private readonly log: (msg: string, fields?: object) => void,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }

  private drain(): void {
    this.scheduled = false;
    const keys = [...this.pending];
    this.pending.clear();
    for (const key of keys) {
      if (this.stopped) return;
      try {
        this.reconcile(key);
      } catch (err) {
        // A controller bug must not take the server down; it is logged and retried on the next event.
        this.log('reconcile failed', { key, err: (err as Error).stack ?? String(err) });
      }
    }
  }
}
