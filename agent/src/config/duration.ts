// Durations in flags, as Kubernetes and Go tools write them ("24h", "1h30m", "90s") or as plain
// seconds ("3600"). Shared by `weft agent` and `weft ca`, so a lifetime reads the same in both.

/** Seconds, or undefined when the text is no duration. */
export function parseDurationSeconds(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^(\d+[hms])+$/.test(text)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([hms])/g)) {
    seconds += Number(amount) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  }
  return seconds;
}
