// `weft convert istio -f FILE...`: prints Weft policies for Istio AuthorizationPolicies (YAML on
// stdout) and, on stderr, every part that could not be converted, with where it was. Exit 0:
// everything converted; 1: something was left out (the output is still printed); 2: bad usage.
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { parseAllDocuments, stringify } from 'yaml';
import { convertIstioPolicies } from '../authz/istio-conversion.js';
import { UsageError } from './usage-error.js';

export const CONVERT_USAGE = `usage: weft convert istio -f FILE [-f FILE]... [--root-namespace NS] [--trust-domain DOMAIN]
  prints Weft policies for the Istio AuthorizationPolicies in the files; what cannot be
  converted is listed on stderr (exit 1)`;

export async function runConvert(argv: readonly string[], out: Writable, err: Writable): Promise<number> {
  const [source, ...rest] = argv;
  if (source !== 'istio') throw new UsageError(source === undefined ? 'weft convert needs a source (istio)' : `cannot convert from "${source}" (istio only)`);
  const files: string[] = [];
  let rootNamespace = 'istio-system';
  let trustDomain = 'cluster.local';
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined || v === '') throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '-f' || arg === '--filename') files.push(value());
    else if (arg === '--root-namespace') rootNamespace = value();
    else if (arg === '--trust-domain') trustDomain = value();
    else throw new UsageError(`unknown flag ${arg}`);
  }
  if (files.length === 0) throw new UsageError('weft convert istio needs -f FILE');
  const objects: Record<string, unknown>[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new UsageError(`${file}: ${doc.errors[0]!.message}`);
      const value = doc.toJS() as Record<string, unknown> | null;
      if (value && typeof value === 'object') objects.push(value);
    }
  }
  const result = convertIstioPolicies(objects, { rootNamespace, trustDomain });
  out.write(result.policies.map((p) => stringify(p)).join('---\n'));
  for (const p of result.problems) err.write(`not converted: ${p.policy} ${p.field}: ${p.message}\n`);
  return result.problems.length > 0 ? 1 : 0;
}
