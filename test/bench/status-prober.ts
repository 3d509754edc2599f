// Runs inside a bench pod: asks each URL again and again over a kept-alive connection and appends
// a line `<epoch ms> <url> <status>` to FILE whenever a URL's answer changes (0: no answer). The
// authorization benchmark reads when a policy change became visible to real traffic.
//   node status-prober.js FILE STOPFILE URL...
import { appendFileSync, existsSync } from 'node:fs';
import http from 'node:http';

const [file, stopFile, ...urls] = process.argv.slice(2);
if (!file || !stopFile || urls.length === 0) {
  process.stderr.write('usage: status-prober.js FILE STOPFILE URL...\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function probe(url: string, last: number): void {
  if (existsSync(stopFile!)) return;
  const req = http.get(url, { agent, timeout: 2000 }, (res) => {
    res.resume();
    res.once('end', () => next(url, last, res.statusCode ?? 0));
  });
  req.once('timeout', () => req.destroy(new Error('timeout')));
  req.once('error', () => next(url, last, 0));
}

function next(url: string, last: number, status: number): void {
  if (status !== last) appendFileSync(file!, `${Date.now()} ${url} ${status}\n`);
  setImmediate(() => probe(url, status));
}

for (const url of urls) probe(url, -1);
