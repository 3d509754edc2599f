// Typed errors for everything that crosses the FFI into libbpf or the kernel. errno becomes a
// code here, once, so callers match on `code` instead of parsing messages.
import { constants } from 'node:os';

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

export class BpfError extends Error {
  /** errno name, e.g. 'ENOENT', 'EPERM', 'EEXIST'. */
  readonly code: string;
  readonly errno: number;
  /** The libbpf or kernel call that failed, e.g. 'bpf_object__load'. */
  readonly call: string;

  constructor(call: string, errno: number, detail?: string) {
    const code = errnoNames.get(errno) ?? `E${errno}`;
    super(`${call} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'BpfError';
    this.code = code;
    this.errno = errno;
    this.call = call;
  }
}

/** The kernel lacks what a program needs; the only error a test may skip on. */
export class BpfNotSupportedError extends BpfError {
  constructor(call: string, errno: number, readonly feature: string) {
    super(call, errno, `kernel does not support ${feature}`);
    this.name = 'BpfNotSupportedError';
  }
}

export function isBpfErrorCode(err: unknown, code: string): boolean {
  return err instanceof BpfError && err.code === code;
}
