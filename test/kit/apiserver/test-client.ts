// Test helpers: raw HTTPS requests to a test server (trusting its CA) and real kubectl runs
// against its kubeconfig, each with a private discovery cache so runs never share state.
import { request } from 'node:https';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { ApiServerHandle } from './server.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface RequestOptions {
  body?: string | Buffer | object;
  contentType?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

export function apiRequest(server: ApiServerHandle, method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(options.headers ?? {}) };
  const token = options.token === undefined ? server.token : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    payload = Buffer.isBuffer(options.body) ? options.body : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
    headers['Content-Type'] = options.contentType ?? 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, headers, ca: server.caCertPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined; // not JSON (e.g. a watch stream or plain text): callers use `text`
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectlArgs(server: ApiServerHandle, cacheDir: string, args: string[]): string[] {
  return ['--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args];
}

export function kubectl(server: ApiServerHandle, cacheDir: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', kubectlArgs(server, cacheDir, args), { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
      if (err && code === -1) {
        reject(err);
        return;
      }
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Like kubectl() but fails the test when kubectl exits non-zero. */
export async function kubectlOk(server: ApiServerHandle, cacheDir: string, args: string[], input?: string): Promise<string> {
  const result = await kubectl(server, cacheDir, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** A long-running kubectl (e.g. `get -w`) whose output accumulates; kill it by PID when done. */
export function spawnKubectl(server: ApiServerHandle, cacheDir: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn('kubectl', kubectlArgs(server, cacheDir, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  return { child, output: () => out };
}
