// The Weft programs attached to a cgroup, as bpftool lists them ("<attach type>:<name>", sorted):
// what the tests check after enrolling, releasing or restarting.
import { execFileSync } from 'node:child_process';

export function attachedWeftPrograms(cgroup: string): string[] {
  const out = execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup], { encoding: 'utf8' });
  const progs = JSON.parse(out.trim() || '[]') as { name: string; attach_type: string }[];
  return progs.filter((p) => p.name.startsWith('weft_')).map((p) => `${p.attach_type}:${p.name}`).sort();
}
