// Command-line parsing for `npm run bed -- <command> ...`. Each command declares its flags; any
// unknown flag, missing value or bad number is a UsageError, which main.ts turns into a clear
// message and exit code 2. Everything after `--` is the command to run, untouched.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type FlagKind = 'boolean' | 'string' | 'repeated';

interface FlagSpec {
  kind: FlagKind;
  aliases?: string[];
}

export const COMMAND_FLAGS: Record<string, Record<string, FlagSpec>> = {
  up: {
    nodes: { kind: 'string' },
    kubeconfig: { kind: 'string' },
    'no-controllers': { kind: 'boolean' },
    'no-agent': { kind: 'boolean' },
    'no-ca': { kind: 'boolean' },
    'cert-ttl': { kind: 'string' },
    'from-chart': { kind: 'boolean' },
    values: { kind: 'string' },
  },
  run: {
    namespace: { kind: 'string', aliases: ['n'] },
    node: { kind: 'string' },
    labels: { kind: 'string' },
    'service-account': { kind: 'string' },
    port: { kind: 'repeated' },
    timeout: { kind: 'string' },
  },
  exec: { namespace: { kind: 'string', aliases: ['n'] }, node: { kind: 'string' } },
  delete: { namespace: { kind: 'string', aliases: ['n'] }, timeout: { kind: 'string' } },
  status: {},
  down: {},
  help: {},
};

const GLOBAL_FLAGS: Record<string, FlagSpec> = { state: { kind: 'string' } };

export interface ParsedCommandLine {
  command: string;
  positionals: string[];
  flags: Map<string, string | boolean | string[]>;
  rest: string[] | null;   // the words after `--`, or null when there was no `--`
}

export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const dashDash = argv.indexOf('--');
  const words = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? null : argv.slice(dashDash + 1);
  const [command, ...tail] = words;
  if (!command) throw new UsageError('no command given');
  const commandFlags = COMMAND_FLAGS[command];
  if (!commandFlags) throw new UsageError(`unknown command "${command}" (commands: ${Object.keys(COMMAND_FLAGS).join(', ')})`);
  const specs: Record<string, FlagSpec> = { ...GLOBAL_FLAGS, ...commandFlags };
  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, name);
    for (const alias of spec.aliases ?? []) byName.set(alias, name);
  }
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < tail.length; i++) {
    const word = tail[i]!;
    if (!word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    const [rawName, inlineValue] = word.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    const name = byName.get(rawName);
    if (!name) throw new UsageError(`unknown flag ${word} for "${command}"`);
    const spec = specs[name]!;
    if (spec.kind === 'boolean') {
      if (inlineValue !== undefined) throw new UsageError(`flag --${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = inlineValue ?? tail[++i];
    if (value === undefined || value === '') throw new UsageError(`flag --${name} needs a value`);
    if (spec.kind === 'repeated') flags.set(name, [...((flags.get(name) as string[] | undefined) ?? []), value]);
    else if (flags.has(name)) throw new UsageError(`flag --${name} given twice`);
    else flags.set(name, value);
  }
  return { command, positionals, flags, rest };
}

export function stringFlag(parsed: ParsedCommandLine, name: string): string | undefined {
  const value = parsed.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

export function booleanFlag(parsed: ParsedCommandLine, name: string): boolean {
  return parsed.flags.get(name) === true;
}

export function repeatedFlag(parsed: ParsedCommandLine, name: string): string[] {
  const value = parsed.flags.get(name);
  return Array.isArray(value) ? value : [];
}

export function integerFlag(parsed: ParsedCommandLine, name: string, min: number, max: number): number | undefined {
  const text = stringFlag(parsed, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

/** Exactly `count` positional arguments, named in the message when wrong. */
export function positionals(parsed: ParsedCommandLine, names: string[]): string[] {
  if (parsed.positionals.length !== names.length) {
    const expected = names.length ? names.map((n) => n.toUpperCase()).join(' ') : 'no arguments';
    throw new UsageError(`"${parsed.command}" takes ${expected}, got: ${parsed.positionals.join(' ') || 'nothing'}`);
  }
  return parsed.positionals;
}

export const USAGE = `usage: npm run bed -- <command> [--state DIR] ...
  up [--nodes N] [--kubeconfig FILE] [--no-controllers] [--no-agent] [--no-ca] [--cert-ttl DURATION]
  up [--nodes N] --from-chart [--values FILE]   (the Weft chart's DaemonSet and Deployment run the agents and CA)
  run NAME [-n NS] --node NODE [--labels k=v,...] [--service-account SA] [--port P ...] [--timeout S] -- CMD ...
  exec NAME [-n NS] -- CMD ...        (or: exec --node NODE -- CMD ...)
  delete NAME [-n NS] [--timeout S]
  status
  down
--state DIR defaults to $WEFT_BED_STATE, else /run/weft-bed.`;
