// Per-test temporary directories, removed by the returned cleanup (call it in `after()`).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `weft-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
