// The daemon's log: one JSON object per line (constant message, data in fields) on stdout, which
// the daemon's launcher points at <state>/logs/daemon.log.
export type BedLog = (msg: string, fields?: object) => void;

export function makeBedLog(subsystem: string): BedLog {
  return (msg, fields) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), subsys: subsystem, msg, ...fields })}\n`);
  };
}
