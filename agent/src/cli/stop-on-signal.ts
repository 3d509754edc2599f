// Long-running commands stop on SIGTERM (kubelet, `kill`) or SIGINT (Ctrl-C): they log the
// signal, run their own stop, and exit 0, or 1 when stopping failed.
import type { Logger } from 'pino';

/** Resolves with the exit code once a signal arrived and `stop` finished. */
export function stopOnSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolveExit) => {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'stopping');
      stop().then(
        () => resolveExit(0),
        (err: unknown) => {
          log.error({ err }, 'stop failed');
          resolveExit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
