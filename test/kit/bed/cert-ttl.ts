// The workload certificate lifetime of a bed (`up --cert-ttl`), checked by the rules `weft ca`
// applies to --default-ttl/--max-ttl (a number of seconds, or units h/m/s such as 24h, 90m,
// 1m30s; at least 60 s), so a bad value stops `up` at once instead of crash-looping the CA.
import { parseDurationSeconds } from '../../../agent/src/config/duration.js';
import { UsageError } from './cli-args.js';

export const DEFAULT_CERT_TTL = '24h';
/** The CA refuses shorter lifetimes; tests rotate at a minute. */
export const MIN_CERT_TTL_SECONDS = 60;

export interface CertTtl {
  /** As the user wrote it; passed on unchanged to the CA flags and the agents' WEFT_CERT_TTL. */
  text: string;
  seconds: number;
}

export function parseCertTtl(text: string): CertTtl {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) throw new UsageError(`--cert-ttl must be a duration like 24h, 90m or 60s, got "${text}"`);
  if (seconds < MIN_CERT_TTL_SECONDS) throw new UsageError(`--cert-ttl must be at least ${MIN_CERT_TTL_SECONDS}s, got "${text}"`);
  return { text, seconds };
}
