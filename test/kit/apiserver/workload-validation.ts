// Validation of apps/v1 DaemonSets and Deployments as a real 1.26 server words it (pkg/apis/apps/
// validation): the selector must be there, non-empty, must match the pod template's labels and
// cannot change; the template must be a valid pod template whose restartPolicy is Always.
import { childPath, fieldErrors, type FieldCause } from './field-errors.js';
import { goQuote } from './field-errors.js';
import { validateLabels, validateObjectMeta, validatePodSpec } from './object-validation.js';
import { jsonEqual } from './kube-object.js';

type Json = Record<string, any>;

function asObject(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

interface SelectorRequirement {
  key?: unknown;
  operator?: unknown;
  values?: unknown;
}

/** metav1.LabelSelectorAsSelector + Matches: does `selector` select an object labelled `labels`? */
export function labelSelectorMatches(selector: unknown, labels: Record<string, unknown>): boolean {
  if (selector === undefined || selector === null) return false; // a nil selector selects nothing
  const s = asObject(selector);
  for (const [key, value] of Object.entries(asObject(s['matchLabels']))) {
    if (labels[key] !== value) return false;
  }
  const expressions: SelectorRequirement[] = Array.isArray(s['matchExpressions']) ? s['matchExpressions'] : [];
  for (const req of expressions) {
    const key = String(req?.key ?? '');
    const values: unknown[] = Array.isArray(req?.values) ? req.values : [];
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (req?.operator) {
      case 'In': if (!has || !values.includes(labels[key])) return false; break;
      case 'NotIn': if (has && values.includes(labels[key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

function isEmptySelector(selector: unknown): boolean {
  const s = asObject(selector);
  const labels = Object.keys(asObject(s['matchLabels'])).length;
  const expressions = Array.isArray(s['matchExpressions']) ? s['matchExpressions'].length : 0;
  return labels + expressions === 0;
}

/** Go's %#v of a map[string]string (keys sorted, as fmt prints maps). */
function goStringMap(value: unknown): string {
  if (value === undefined || value === null) return 'map[string]string(nil)';
  const m = asObject(value);
  return `map[string]string{${Object.keys(m).sort().map((k) => `${goQuote(k)}:${goQuote(String(m[k]))}`).join(', ')}}`;
}

function goStrings(value: unknown): string {
  if (!Array.isArray(value)) return '[]string(nil)';
  return `[]string{${value.map((v) => goQuote(String(v))).join(', ')}}`;
}

/** Go's %#v of a v1.LabelSelector, as field errors print it. */
export function goLabelSelector(selector: unknown): string {
  const s = asObject(selector);
  const exprs = Array.isArray(s['matchExpressions'])
    ? `[]v1.LabelSelectorRequirement{${s['matchExpressions'].map((r: any) => `v1.LabelSelectorRequirement{Key:${goQuote(String(r?.key ?? ''))}, Operator:${goQuote(String(r?.operator ?? ''))}, Values:${goStrings(r?.values)}}`).join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${goStringMap(s['matchLabels'])}, MatchExpressions:${exprs}}`;
}

function templateMismatch(templateLabels: unknown): FieldCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${goStringMap(templateLabels)}: \`selector\` does not match template \`labels\``, field: 'spec.template.metadata.labels' };
}

function validatePodTemplate(template: Json): FieldCause[] {
  const meta = asObject(template['metadata']);
  const causes = [...validateLabels(meta['labels'], 'spec.template.metadata.labels')];
  const spec = asObject(template['spec']);
  causes.push(...validatePodSpec(spec, 'spec.template.spec'));
  const restartPolicy = spec['restartPolicy'];
  if (restartPolicy !== 'Always' && ['OnFailure', 'Never'].includes(restartPolicy)) {
    causes.push(fieldErrors.notSupported(childPath('spec.template.spec', 'restartPolicy'), restartPolicy, ['Always']));
  }
  return causes;
}

function validateSelectorAndTemplate(spec: Json, kindWord: string): FieldCause[] {
  const causes: FieldCause[] = [];
  const selector = spec['selector'];
  const template = asObject(spec['template']);
  const templateLabels = asObject(asObject(template['metadata'])['labels']);
  if (selector === undefined || selector === null) {
    causes.push(fieldErrors.required('spec.selector'));
  } else if (isEmptySelector(selector)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${goLabelSelector(selector)}: empty selector is invalid for ${kindWord}`, field: 'spec.selector' });
  }
  // An empty selector matches everything, so only a missing or non-matching one is reported here.
  if ((selector === undefined || selector === null || !isEmptySelector(selector)) && !labelSelectorMatches(selector, templateLabels)) {
    causes.push(templateMismatch(asObject(template['metadata'])['labels']));
  }
  causes.push(...validatePodTemplate(template));
  return causes;
}

function nonNegative(spec: Json, field: string): FieldCause[] {
  const value = spec[field];
  return typeof value === 'number' && value < 0 ? [fieldErrors.invalid(`spec.${field}`, value, 'must be greater than or equal to 0')] : [];
}

export function validateDaemonSet(obj: Json, existing: Json | undefined): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  const spec = asObject(obj['spec']);
  causes.push(...validateSelectorAndTemplate(spec, 'daemonset'));
  causes.push(...nonNegative(spec, 'minReadySeconds'), ...nonNegative(spec, 'revisionHistoryLimit'));
  const strategyType = asObject(spec['updateStrategy'])['type'];
  if (strategyType !== undefined && strategyType !== 'RollingUpdate' && strategyType !== 'OnDelete') {
    causes.push(fieldErrors.notSupported('spec.updateStrategy.type', strategyType, ['OnDelete', 'RollingUpdate']));
  }
  if (strategyType === 'RollingUpdate') causes.push(...validateDaemonSetRollingUpdate(asObject(asObject(spec['updateStrategy'])['rollingUpdate'])));
  causes.push(...immutableSelector(spec, existing));
  return causes;
}

/**
 * A DaemonSet rolls either by replacing (maxUnavailable) or by surging (maxSurge: the new pod
 * starts beside the old one on its node), never both, and never neither (ValidateRollingUpdateDaemonSet).
 */
function validateDaemonSetRollingUpdate(rolling: Json): FieldCause[] {
  const path = 'spec.updateStrategy.rollingUpdate';
  const nonZero = (value: unknown): boolean => value !== undefined && value !== 0 && value !== '0%' && value !== '0';
  const hasUnavailable = nonZero(rolling['maxUnavailable']);
  const hasSurge = nonZero(rolling['maxSurge']);
  if (hasUnavailable && hasSurge) return [fieldErrors.invalid(`${path}.maxSurge`, rolling['maxSurge'], 'may not be set when maxUnavailable is non-zero')];
  if (!hasUnavailable && !hasSurge) return [fieldErrors.required(`${path}.maxUnavailable`, 'cannot be 0 when maxSurge is 0')];
  return [];
}

export function validateDeployment(obj: Json, existing: Json | undefined): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  const spec = asObject(obj['spec']);
  causes.push(...nonNegative(spec, 'replicas'));
  causes.push(...validateSelectorAndTemplate(spec, 'deployment'));
  const strategyType = asObject(spec['strategy'])['type'];
  if (strategyType !== undefined && strategyType !== 'RollingUpdate' && strategyType !== 'Recreate') {
    causes.push(fieldErrors.notSupported('spec.strategy.type', strategyType, ['Recreate', 'RollingUpdate']));
  }
  causes.push(...nonNegative(spec, 'minReadySeconds'), ...nonNegative(spec, 'revisionHistoryLimit'));
  causes.push(...immutableSelector(spec, existing));
  return causes;
}

/** apps/v1 selectors cannot change after create. */
function immutableSelector(spec: Json, existing: Json | undefined): FieldCause[] {
  if (existing === undefined) return [];
  const before = asObject(existing['spec'])['selector'];
  if (jsonEqual(spec['selector'] ?? null, before ?? null)) return [];
  return [{ reason: 'FieldValueInvalid', message: `Invalid value: ${goLabelSelector(spec['selector'])}: field is immutable`, field: 'spec.selector' }];
}
