// Query parameters of list and watch requests: selectors (validated like the real server,
// which refuses field selectors a kind does not index) and the object filter they make.
import type { KubeObject } from './kube-object.js';
import type { ResourceDescriptor } from './resource-registry.js';
import { statusErrors } from './status-errors.js';
import {
  matchesFieldSelector, matchesLabelSelector, parseFieldSelector, parseLabelSelector,
  SelectorParseError, supportedFieldSelectors,
} from './selectors.js';
import type { FieldSelector, LabelSelector } from './selectors.js';

export type ObjectFilter = (obj: KubeObject) => boolean;

/** Field selectors each built-in kind supports beyond metadata.name/namespace. */
function fieldsFor(d: ResourceDescriptor): Set<string> {
  if (d.custom) return new Set(['metadata.name', 'metadata.namespace']);
  const fields = supportedFieldSelectors(d.kind);
  if (d.kind === 'Secret') fields.add('type');
  if (d.kind === 'Event') for (const f of ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type']) fields.add(f);
  if (d.kind === 'Namespace') fields.add('status.phase');
  if (d.kind === 'Node') fields.add('spec.unschedulable');
  if (d.kind === 'Service') fields.add('spec.clusterIP');
  return fields;
}

export function parseSelectors(d: ResourceDescriptor, params: URLSearchParams, namespace: string | undefined): ObjectFilter {
  let labels: LabelSelector | undefined;
  let fields: FieldSelector | undefined;
  const labelText = params.get('labelSelector') ?? '';
  const fieldText = params.get('fieldSelector') ?? '';
  try {
    if (labelText !== '') labels = parseLabelSelector(labelText);
  } catch (err) {
    if (!(err instanceof SelectorParseError)) throw err;
    throw statusErrors.badRequest(`unable to parse requested label selector: ${err.message}`);
  }
  try {
    if (fieldText !== '') fields = parseFieldSelector(fieldText);
  } catch (err) {
    if (!(err instanceof SelectorParseError)) throw err;
    throw statusErrors.badRequest(`unable to parse requested field selector: ${err.message}`);
  }
  if (fields) {
    const supported = fieldsFor(d);
    for (const r of fields.requirements) {
      if (!supported.has(r.path)) throw statusErrors.badRequest(`field label not supported: ${r.path}`);
    }
  }
  return (obj) => {
    if (namespace !== undefined && obj.metadata.namespace !== namespace) return false;
    if (labels && !matchesLabelSelector(labels, obj.metadata.labels)) return false;
    if (fields && !matchesFieldSelector(fields, obj)) return false;
    return true;
  };
}

export function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}
