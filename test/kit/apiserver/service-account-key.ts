// The key that signs service-account tokens (kube-apiserver's --service-account-signing-key-file):
// ECDSA P-256, made once per state directory and reused on restart so tokens issued before a
// restart stay valid, as they do across real API server restarts.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ServiceAccountKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Where the private key lives (PKCS#8 PEM). */
  path: string;
}

export async function ensureServiceAccountKey(stateDir: string): Promise<ServiceAccountKey> {
  const path = join(stateDir, 'sa.key');
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    // 'wx': two servers sharing a state directory never overwrite each other's key.
    await writeFile(path, pem, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      pem = await readFile(path, 'utf8');
    });
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${path}: the service-account signing key must be ECDSA P-256`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey), path };
}
