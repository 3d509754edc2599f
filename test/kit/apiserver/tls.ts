// The server's TLS material: a CA made once per state directory (reused on restart so clients
// that trust it keep working) and a fresh serving certificate for the addresses clients dial.
// Uses the openssl CLI with ECDSA P-256, as kubeadm-made clusters do.
import { execFile } from 'node:child_process';
import { access, readFile, writeFile, rm, chmod } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);

export interface ServerTls {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`);
  }
}

async function newKey(path: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  await chmod(path, 0o600);
}

/** Subject alternative names for the serving certificate: loopback, localhost and `hosts`. */
export function subjectAltNames(hosts: string[]): string {
  const names = new Set(['IP:127.0.0.1', 'DNS:localhost']);
  for (const host of hosts) {
    if (host === '' || host === '0.0.0.0' || host === '::') continue;
    names.add(isIP(host) ? `IP:${host}` : `DNS:${host}`);
  }
  return [...names].join(',');
}

export async function ensureServerTls(stateDir: string, hosts: string[]): Promise<ServerTls> {
  const caKey = join(stateDir, 'ca.key');
  const caCrt = join(stateDir, 'ca.crt');
  if (!((await exists(caKey)) && (await exists(caCrt)))) {
    await newKey(caKey);
    await openssl([
      'req', '-x509', '-new', '-key', caKey, '-subj', '/CN=weft-bed-ca', '-days', '3650', '-out', caCrt,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
    ]);
  }
  const serverKey = join(stateDir, 'server.key');
  const serverCrt = join(stateDir, 'server.crt');
  const csr = join(stateDir, 'server.csr');
  const ext = join(stateDir, 'server.ext');
  await newKey(serverKey);
  await openssl(['req', '-new', '-key', serverKey, '-subj', '/CN=weft-apiserver', '-out', csr]);
  await writeFile(ext, [
    `subjectAltName=${subjectAltNames(hosts)}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'));
  await openssl([
    'x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-days', '3650',
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-extfile', ext, '-out', serverCrt,
  ]);
  await rm(csr);
  await rm(ext);
  return {
    caCertPem: await readFile(caCrt, 'utf8'),
    certPem: await readFile(serverCrt, 'utf8'),
    keyPem: await readFile(serverKey, 'utf8'),
  };
}
