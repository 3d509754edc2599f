// Reads a golden answer of a real kube-apiserver copied into testdata/ (see testdata/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/repo-root.js';

export function readGoldenFixture(fileName: string): any {
  const path = join(repoRoot, 'test', 'kit', 'apiserver', 'testdata', fileName);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read golden fixture ${path}: ${(err as Error).message}`);
  }
}
