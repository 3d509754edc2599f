// Regular expressions in policies follow Gateway API's RE2 flavour, matched against the whole
// value. JavaScript's engine backtracks; the constructs RE2 refuses (lookaround, backreferences)
// are refused here too, so a policy means the same thing in both and cannot be made to backtrack
// through them. Compiled patterns are cached: workers compile each pattern once.

const RE2_UNSUPPORTED = /\(\?<?[=!]|\\[1-9]|\\k</;
const MAX_PATTERN_LENGTH = 1024;
const compiled = new Map<string, RegExp>();

/** Why `pattern` cannot be used, or undefined. */
export function regularExpressionProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return `regular expression longer than ${MAX_PATTERN_LENGTH} characters`;
  if (RE2_UNSUPPORTED.test(pattern)) return 'lookaround and backreferences are not RE2 syntax';
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
  return undefined;
}

/** `text` as a pattern that matches exactly it (`/` escaped too, harmless and safe in any flavour). */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Whole-value match of a pattern that passed regularExpressionProblem. */
export function fullMatch(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^(?:${pattern})$`, 'u');
    compiled.set(pattern, re);
  }
  return re.test(value);
}
