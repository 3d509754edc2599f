// metav1.MicroTime as a real kube-apiserver decodes it: Go's time.Parse with the layout
// "2006-01-02T15:04:05.000000Z07:00", so exactly six fractional digits (Leases' renewTime and
// acquireTime, Events' eventTime). A value with milliseconds, as JavaScript's toISOString()
// writes, is refused with 400 and Go's message, e.g.
//   parsing time "2026-12-03T06:42:23.493Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".493Z" as ".000000"
// (metav1.Time, by contrast, is parsed as RFC 3339, which accepts any fraction.)

export const MICRO_TIME_SCHEMA_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime';
const LAYOUT = '2006-01-02T15:04:05.000000Z07:00';

/** Go's parse error for a MicroTime string, or undefined when it parses. */
export function microTimeParseError(value: unknown): string | undefined {
  if (typeof value !== 'string') return `MicroTime must be a string, got ${JSON.stringify(value)}`;
  const fail = (rest: string, element: string): string => `parsing time ${JSON.stringify(value)} as "${LAYOUT}": cannot parse ${JSON.stringify(rest)} as "${element}"`;
  const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.exec(value);
  if (dateTime === null) return fail(value, '2006');
  const afterSeconds = value.slice(dateTime[0].length);
  const fraction = /^\.\d{6}/.exec(afterSeconds);
  if (fraction === null) return fail(afterSeconds, '.000000');
  const zone = afterSeconds.slice(fraction[0].length);
  if (!/^(Z|[+-]\d{2}:\d{2})$/.test(zone)) return fail(zone, 'Z07:00');
  return undefined;
}

/** The MicroTime JavaScript would write for `date`: its milliseconds, then three zeros. */
export function formatMicroTime(date: Date): string {
  return `${date.toISOString().slice(0, -1)}000Z`;
}
