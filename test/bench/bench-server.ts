// The benchmark's upstream, run inside a bed pod: the leanest useful Node HTTP/1.1 server - a
// fixed 100-byte body with precomputed headers and keep-alive - so a benchmark round measures the
// path between client and server, not the server's own work.
//   node bench-server.js PORT
import { createServer } from 'node:http';
import { BENCH_BODY } from './bench-body.js';

// `make test` runs every .js file under dist/test through `node --test`; this file is a workload,
// not a test, so it does nothing there instead of listening forever.
if (process.env['NODE_TEST_CONTEXT'] !== undefined) process.exit(0);

const body = Buffer.from(BENCH_BODY);
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };

const portText = process.argv[2] ?? '';
const port = Number(portText);
if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
  process.stderr.write(`usage: bench-server.js PORT (1..65535), got "${portText}"\n`);
  process.exit(2);
}

const server = createServer((req, res) => {
  // GET requests carry no body; draining keeps a stray POST from stalling the keep-alive socket.
  req.resume();
  res.writeHead(200, headers).end(body);
});
// wrk keeps its connections for the whole round; Node's default 5 s idle timeout only matters
// between rounds, where a closed idle socket is simply reopened.
server.listen(port, '0.0.0.0', () => process.stdout.write(`bench-server listening on ${port}\n`));
