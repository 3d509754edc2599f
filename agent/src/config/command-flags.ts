// Flag parsing shared by the long-running commands (`weft agent`, `weft ca`): every option has a
// flag, an environment variable and maybe a default; `--flag value` and `--flag=value` are
// accepted; an unknown flag or a missing value is a ConfigError naming the flag.

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface OptionSpec {
  flag: string;
  env: string;
  description: string;
  default?: string;
}

export interface ParseFlagsOptions<Key extends string> {
  /** Options whose value may be the empty string (e.g. a list that may be empty). */
  allowEmpty?: ReadonlySet<Key>;
}

export function parseFlags<Key extends string>(
  argv: readonly string[],
  specs: Readonly<Record<Key, OptionSpec>>,
  options: ParseFlagsOptions<Key> = {},
): Map<Key, string> {
  const byFlag = new Map<string, Key>((Object.entries(specs) as [Key, OptionSpec][]).map(([key, spec]) => [spec.flag, key]));
  const values = new Map<Key, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(flag);
    if (!key) throw new ConfigError(`unknown flag ${flag}; known flags: ${[...byFlag.keys()].join(', ')}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (value === '' && !options.allowEmpty?.has(key))) throw new ConfigError(`${flag} needs a value`);
    values.set(key, value);
  }
  return values;
}

/** The value of an option: its flag, else its environment variable, else its default. */
export function optionValue<Key extends string>(
  key: Key,
  specs: Readonly<Record<Key, OptionSpec>>,
  flags: ReadonlyMap<Key, string>,
  env: NodeJS.ProcessEnv,
): string | undefined {
  const spec = specs[key];
  return flags.get(key) ?? (env[spec.env] || undefined) ?? spec.default;
}
