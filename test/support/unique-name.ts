// Names unique to one test run, so tests never collide with each other or with a
// leftover from a crashed run (Kubernetes-valid: lower case, digits and '-').
import { randomBytes } from 'node:crypto';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}
