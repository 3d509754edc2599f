// Label and field selectors with the grammar and error messages of Kubernetes'
// k8s.io/apimachinery/pkg/labels and pkg/fields parsers, for list and watch filtering.
import { isQualifiedName, isValidLabelValue } from './name-validation.js';
import { formatBadValue } from './field-errors.js';

export class SelectorParseError extends Error {
  override name = 'SelectorParseError';
}

export interface LabelRequirement {
  key: string;
  operator: 'in' | 'notin' | 'exists' | '!' | '=' | '!=';
  values: string[];
}
export interface LabelSelector {
  requirements: LabelRequirement[];
}
export interface FieldRequirement {
  path: string;
  operator: '=' | '!=';
  value: string;
}
export interface FieldSelector {
  requirements: FieldRequirement[];
}

// ---- label selector lexer/parser (mirrors labels.Parser) ----

type TokenKind =
  | 'identifier' | 'end' | 'error' | '!' | '=' | '==' | '!=' | 'in' | 'notin' | '(' | ')' | ',' | '>' | '<';
interface Token { kind: TokenKind; literal: string }

const specialSymbols = new Set(['!', '=', '>', '<', ',', '(', ')']);
const binaryOperators = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (specialSymbols.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === '!=' || two === '==') { tokens.push({ kind: two, literal: two }); i += 2; continue; }
      tokens.push({ kind: c as TokenKind, literal: c });
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!) && !specialSymbols.has(text[j]!)) j++;
    const word = text.slice(i, j);
    tokens.push({ kind: word === 'in' ? 'in' : word === 'notin' ? 'notin' : 'identifier', literal: word });
    i = j;
  }
  tokens.push({ kind: 'end', literal: '' });
  return tokens;
}

/** A malformed requirement; parse() prefixes it with "unable to parse requirement:" as Kubernetes does. */
class RequirementError extends Error {}

class LabelParser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  // In "values" mode the keywords `in`/`notin` are plain identifiers, as in the real parser.
  private peek(valuesMode: boolean): Token {
    const t = this.tokens[this.pos]!;
    return valuesMode && (t.kind === 'in' || t.kind === 'notin') ? { kind: 'identifier', literal: t.literal } : t;
  }
  private next(valuesMode: boolean): Token {
    const t = this.peek(valuesMode);
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const t = this.peek(true);
      if (t.kind === 'identifier' || t.kind === '!') {
        let r: LabelRequirement;
        try {
          r = this.parseRequirement();
        } catch (err) {
          if (!(err instanceof RequirementError)) throw err;
          throw new SelectorParseError(`unable to parse requirement: ${err.message}`);
        }
        requirements.push(r);
        const after = this.next(true);
        if (after.kind === 'end') return requirements;
        if (after.kind === ',') {
          const t2 = this.peek(true);
          if (t2.kind !== 'identifier' && t2.kind !== '!') throw new SelectorParseError(`found '${t2.literal}', expected: identifier after ','`);
          continue;
        }
        throw new SelectorParseError(`found '${after.literal}', expected: ',' or 'end of string'`);
      }
      if (t.kind === 'end') return requirements;
      throw new SelectorParseError(`found '${t.literal}', expected: !, identifier, or 'end of string'`);
    }
  }

  private parseRequirement(): LabelRequirement {
    let t = this.next(true);
    let negated = false;
    if (t.kind === '!') { negated = true; t = this.next(true); }
    if (t.kind !== 'identifier') throw new RequirementError(`found '${t.literal}', expected: identifier`);
    const key = t.literal;
    const keyErrors = isQualifiedName(key);
    if (keyErrors.length > 0) throw new RequirementError(`<nil>: Invalid value: ${formatBadValue(key)}: ${keyErrors.join('; ')}`);
    const la = this.peek(true);
    // `!key` never takes an operator: whatever follows is the caller's syntax error, as in the real parser.
    if (negated) return { key, operator: '!', values: [] };
    if (la.kind === 'end' || la.kind === ',') return { key, operator: 'exists', values: [] };
    const op = this.next(false);
    let operator: LabelRequirement['operator'];
    switch (op.kind) {
      case 'in': operator = 'in'; break;
      case 'notin': operator = 'notin'; break;
      case '=': case '==': operator = '='; break;
      case '!=': operator = '!='; break;
      case '>': case '<':
        throw new RequirementError(`operator '${op.literal}' is not supported by this server's label selectors`);
      default:
        throw new RequirementError(`found '${op.literal}', expected: ${binaryOperators.join(', ')}`);
    }
    const values = operator === 'in' || operator === 'notin' ? this.parseValueSet() : [this.parseExactValue()];
    if ((operator === 'in' || operator === 'notin') && values.length === 0) {
      throw new RequirementError(`values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`);
    }
    values.forEach((v, i) => {
      const errs = isValidLabelValue(v);
      if (errs.length > 0) throw new RequirementError(`values[${i}][${key}]: Invalid value: ${formatBadValue(v)}: ${errs.join('; ')}`);
    });
    return { key, operator, values };
  }

  private parseValueSet(): string[] {
    const open = this.next(true);
    if (open.kind !== '(') throw new RequirementError(`found '${open.literal}' expected: '('`);
    const values = new Set<string>();
    let t = this.peek(true);
    if (t.kind === ')') { this.next(true); return []; }
    for (;;) {
      t = this.peek(true);
      if (t.kind === 'identifier') {
        values.add(this.next(true).literal);
        t = this.peek(true);
      } else if (t.kind === ',' || t.kind === ')') {
        values.add(''); // an empty value between commas, as `in (a,)` means {a, ""}
      } else {
        throw new RequirementError(`found '${t.literal}', expected: ',', ')' or identifier`);
      }
      const sep = this.next(true);
      if (sep.kind === ')') break;
      if (sep.kind !== ',') throw new RequirementError(`found '${sep.literal}', expected: ',' or ')'`);
    }
    // The real parser keeps values in a sorted set.
    return [...values].sort();
  }

  private parseExactValue(): string {
    const t = this.peek(true);
    if (t.kind === 'end' || t.kind === ',') return '';
    const v = this.next(true);
    if (v.kind === 'identifier') return v.literal;
    throw new RequirementError(`found '${v.literal}', expected: identifier`);
  }
}

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`. The empty string selects everything. */
export function parseLabelSelector(text: string): LabelSelector {
  return { requirements: new LabelParser(tokenize(text)).parse() };
}

export function matchesLabelSelector(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const present = labels ?? {};
  return sel.requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(present, r.key);
    const value = present[r.key];
    switch (r.operator) {
      case 'exists': return has;
      case '!': return !has;
      case '=': case 'in': return has && r.values.includes(value!);
      case '!=': case 'notin': return !has || !r.values.includes(value!);
    }
  });
}

// ---- field selectors (mirrors fields.ParseSelector) ----

function splitUnescapedCommas(text: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') { terms.push(text.slice(start, i)); start = i + 1; }
  }
  terms.push(text.slice(start));
  return terms;
}

function unescapeFieldValue(value: string): string {
  let out = '';
  let inSlash = false;
  for (const c of value) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') throw new SelectorParseError(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') throw new SelectorParseError(`invalid field selector: unescaped character in value: ${c}`);
    else out += c;
  }
  if (inSlash) throw new SelectorParseError('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Parses `path=value,path!=value` (`==` too); `\,` `\=` `\\` escape inside values. */
export function parseFieldSelector(text: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  if (text === '') return { requirements };
  for (const term of splitUnescapedCommas(text)) {
    if (term === '') continue;
    let found: FieldRequirement | undefined;
    for (let i = 0; i < term.length && found === undefined; i++) {
      for (const op of ['!=', '==', '='] as const) {
        if (term.startsWith(op, i)) {
          found = { path: term.slice(0, i), operator: op === '!=' ? '!=' : '=', value: unescapeFieldValue(term.slice(i + op.length)) };
          break;
        }
      }
    }
    if (found === undefined) throw new SelectorParseError(`invalid selector: '${text}'; can't understand '${term}'`);
    requirements.push(found);
  }
  return { requirements };
}

// Fields a real server reads from Go booleans, so an absent one still compares as "false".
const booleanFields = new Set(['spec.unschedulable']);

/** The string a field has for field selectors: scalars as text, missing (or null) as ''. */
export function fieldValue(obj: object, path: string): string {
  const absent = booleanFields.has(path) ? 'false' : '';
  let current: unknown = obj;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return absent;
    current = (current as Record<string, unknown>)[segment];
  }
  if (current === undefined || current === null) return absent;
  if (typeof current === 'object') return JSON.stringify(current);
  return String(current);
}

export function matchesFieldSelector(sel: FieldSelector, obj: object): boolean {
  return sel.requirements.every((r) => (fieldValue(obj, r.path) === r.value) === (r.operator === '='));
}

const fieldSelectorsByKind: Record<string, string[]> = {
  Pod: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  Secret: ['type'],
  Event: [
    'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
    'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
    'reason', 'reportingComponent', 'source', 'type',
  ],
  Namespace: ['status.phase'],
  Node: ['spec.unschedulable'],
};

/**
 * The field labels a real kube-apiserver accepts in `fieldSelector` for a kind; anything else is
 * answered with 400 `field label not supported: X`. Custom resources get the metadata pair only.
 */
export function supportedFieldSelectors(kind: string): Set<string> {
  return new Set(['metadata.name', 'metadata.namespace', ...(fieldSelectorsByKind[kind] ?? [])]);
}
