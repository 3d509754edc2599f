// The workload that opened a proxied connection, as far as identity is concerned: its namespace
// and service account (the SPIFFE identity it speaks with across nodes). Objects are cached per
// snapshot pod in route-table.ts, and `key` is stable across snapshots, so keep-alive pools keyed
// by it survive snapshot swaps.

export interface SourceWorkload {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** `<namespace>/<serviceAccount>`: pools of upstream connections are kept apart per identity. */
  readonly key: string;
}
