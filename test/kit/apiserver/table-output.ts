// Server-side printing: when a client (kubectl get) accepts a meta.k8s.io/v1 Table, lists, gets
// and watch events are answered as Tables; every other client gets the objects.
import type { IncomingMessage } from 'node:http';
import type { KubeObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { apiVersionOf } from './resource-registry.js';
import { cellsFor, columnsFor, definitionsOf } from './table-columns.js';

export function wantsTable(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  // Media types are tried in the client's order: a Table is wanted when it comes before plain JSON.
  for (const part of accept.split(',')) {
    const params = part.split(';').map((p) => p.trim());
    if (!/^application\/json$|^\*\/\*$/.test(params[0]!)) continue;
    return params.includes('as=Table') && params.includes('g=meta.k8s.io') && (params.includes('v=v1') || params.includes('v=v1beta1'));
  }
  return false;
}

function rowObject(d: ResourceDescriptor, obj: KubeObject, includeObject: string): object {
  if (includeObject === 'Object') return { ...obj, apiVersion: apiVersionOf(d), kind: d.kind };
  if (includeObject === 'None') return {};
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function toTable(d: ResourceDescriptor, objects: KubeObject[], listMeta: object, includeObject: string | null): object {
  const columns = columnsFor(d);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: definitionsOf(columns),
    rows: objects.map((obj) => ({ cells: cellsFor(columns, obj), object: rowObject(d, obj, includeObject ?? 'Metadata') })),
  };
}
