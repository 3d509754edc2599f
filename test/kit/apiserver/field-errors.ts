// Field errors worded exactly like Kubernetes' k8s.io/apimachinery/pkg/util/validation/field
// package, so the causes and 422 messages this server sends read like a real kube-apiserver's.

export type FieldCauseReason =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueTypeInvalid'
  | 'FieldValueTooLong'
  | 'FieldValueDuplicate'
  // Not in the first contract draft, but real servers use them (maxItems, forbidden fields).
  | 'FieldValueTooMany'
  | 'FieldValueForbidden';

/** One `details.causes[]` entry of a 422 Status: `message` is the error body without the field. */
export interface FieldCause {
  reason: FieldCauseReason;
  message: string;
  field: string;
}

/** Go's strconv.Quote, close enough for JSON-decoded strings. */
export function goQuote(value: string): string {
  return JSON.stringify(value);
}

/** Go's `%#v` of a JSON-decoded value (map[string]interface {}, []interface {}, ...). */
function goSyntax(value: unknown): string {
  if (value === null || value === undefined) return 'interface {}(nil)';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) return `[]string{${value.map((v) => goQuote(v as string)).join(', ')}}`;
    return `[]interface {}{${value.map(goSyntax).join(', ')}}`;
  }
  const entries = Object.keys(value as object).sort().map((k) => `${goQuote(k)}:${goSyntax((value as Record<string, unknown>)[k])}`);
  return `map[string]interface {}{${entries.join(', ')}}`;
}

/** How field.Error prints a bad value: simple types with %v, strings with %q, the rest with %#v. */
export function formatBadValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return goSyntax(value);
}

function withDetail(body: string, detail: string | undefined): string {
  return detail !== undefined && detail !== '' ? `${body}: ${detail}` : body;
}

export const fieldErrors = {
  required(field: string, detail?: string): FieldCause {
    return { reason: 'FieldValueRequired', message: withDetail('Required value', detail), field };
  },
  invalid(field: string, value: unknown, detail?: string): FieldCause {
    return { reason: 'FieldValueInvalid', message: withDetail(`Invalid value: ${formatBadValue(value)}`, detail), field };
  },
  typeInvalid(field: string, value: unknown, detail?: string): FieldCause {
    return { reason: 'FieldValueTypeInvalid', message: withDetail(`Invalid value: ${formatBadValue(value)}`, detail), field };
  },
  notSupported(field: string, value: unknown, validValues: string[]): FieldCause {
    const detail = validValues.length > 0 ? `supported values: ${validValues.map(goQuote).join(', ')}` : undefined;
    return { reason: 'FieldValueNotSupported', message: withDetail(`Unsupported value: ${formatBadValue(value)}`, detail), field };
  },
  duplicate(field: string, value: unknown): FieldCause {
    return { reason: 'FieldValueDuplicate', message: `Duplicate value: ${formatBadValue(value)}`, field };
  },
  tooLong(field: string, maxLength: number): FieldCause {
    const detail = maxLength >= 0 ? `may not be longer than ${maxLength}` : 'value is too long';
    return { reason: 'FieldValueTooLong', message: `Too long: ${detail}`, field };
  },
  tooMany(field: string, actual: number, max: number): FieldCause {
    const detail = max >= 0 ? `must have at most ${max} items` : 'has too many items';
    return { reason: 'FieldValueTooMany', message: `Too many: ${actual}: ${detail}`, field };
  },
  forbidden(field: string, detail: string): FieldCause {
    return { reason: 'FieldValueForbidden', message: withDetail('Forbidden', detail), field };
  },
};

/** field.Path helpers: `a.b`, `a[0]`, `a[key]`. */
export function childPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}.${name}`;
}
export function indexPath(parent: string, index: number | string): string {
  return `${parent}[${index}]`;
}
