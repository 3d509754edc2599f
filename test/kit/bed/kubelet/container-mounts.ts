// A container's own mount namespace, as a runtime builds it: the kubelet starts every container
// under `unshare --mount --cgroup --propagation slave` from its node's cgroup root, and the script
// made here moves it into its container cgroup, bind-mounts the pod's volumes at their mountPaths
// and execs the container's command. The cgroup namespace is rooted at the node's cgroup root, so
// /proc/<pid>/cgroup reads "0::/kubepods.slice/..." as on a node whose runtime shares the host
// cgroup namespace, and a hostPath /sys/fs/cgroup (the node's root) resolves those paths. The root mount namespace
// is never changed: every mount happens in the container's namespace only, and slave propagation
// lets host unmounts (e.g. `ip netns del` of a pod namespace) reach it, so it holds nothing alive.
//
// A mountPath whose directory does not exist on the host (e.g. /var/run/secrets/...) must not be
// created there: its deepest existing ancestor is covered by a tmpfs (in this namespace only)
// that gets a bind mount of every entry the ancestor had, and the missing part is made on it.

export interface ContainerMount {
  /** Host path of what is mounted (a directory or, with kind 'file', a file). */
  source: string;
  /** mountPath inside the container. */
  target: string;
  readOnly: boolean;
  kind: 'dir' | 'file';
}

/**
 * The command prefix that gives a container its own mount namespace (slave of the host's) and a
 * cgroup namespace rooted where it is started (the node's cgroup root).
 */
export const UNSHARE_MOUNT = ['unshare', '--mount', '--cgroup', '--propagation', 'slave', '--'];

// $1 of the script is the container cgroup, $2.. the container's command; it ends with `exec "$@"`.
// -n: do not write /run/mount/utab (a host file); -c: do not canonicalize /proc/self/fd paths.
const FUNCTIONS = `set -e
echo $$ > "$1/cgroup.procs"
shift
shadow() {
  d=$1
  exec 3<"$d"
  mount -n -t tmpfs -o mode=0755 weft-bed-shadow "$d"
  for name in $(ls -A /proc/self/fd/3); do
    s=/proc/self/fd/3/$name
    if [ -L "$s" ]; then ln -s "$(readlink "$s")" "$d/$name"
    elif [ -d "$s" ]; then mkdir -p "$d/$name"; mount -n -c --rbind "$s" "$d/$name"
    else [ -e "$d/$name" ] || : > "$d/$name"; mount -n -c --bind "$s" "$d/$name"
    fi
  done
  exec 3<&-
}
make_target() {
  t=$1
  [ -e "$t" ] && return 0
  a=$(dirname "$t")
  while [ ! -e "$a" ]; do a=$(dirname "$a"); done
  if [ "$(findmnt -n -o SOURCE --target "$a")" != weft-bed-shadow ]; then
    if [ "$a" = / ]; then echo "weft-bed: cannot create mount target $t (nothing but / exists above it)" >&2; exit 1; fi
    shadow "$a"
  fi
  if [ "$2" = file ]; then mkdir -p "$(dirname "$t")"; : > "$t"; else mkdir -p "$t"; fi
}
# What was mounted at a target directory is detached first (every stacked layer), as in a fresh container root where
# only the volume is there (a covered cgroup2 mount would still be listed in /proc/self/mountinfo).
# The source may lie below the target (the node's bpffs dir below /sys/fs/bpf), so it is bound to
# the stage directory $5 (an empty dir of the pod's, a mount point in this namespace only) first.
bind() {
  make_target "$2" "$3"
  if [ "$3" = dir ] && mountpoint -q "$2"; then
    mount -n -c --rbind "$1" "$5"
    while mountpoint -q "$2"; do umount -R -n "$2"; done
    mount -n -c --move "$5" "$2"
  else
    mount -n -c --rbind "$1" "$2"
  fi
  if [ "$4" = ro ]; then mount -n -c -o remount,bind,ro "$2"; fi
}
`;

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function normalizeTarget(target: string): string {
  if (!target.startsWith('/')) throw new Error(`mountPath must be absolute, got "${target}"`);
  const parts = target.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`mountPath must not contain "..", got "${target}"`);
  if (parts.length === 0) throw new Error('mountPath must not be /');
  return `/${parts.join('/')}`;
}

/**
 * The `sh -c` script that mounts `mounts` and then execs "$@". `stageDir` is an empty directory
 * (on the host, owned by the pod) used while replacing a mount point. Parents are mounted before
 * children (sorted by path), as kubelet orders them; targets go through `readlink -m`, so
 * /var/run/... lands on /run/... like a runtime following the symlink.
 */
export function mountSetupScript(mounts: ContainerMount[], stageDir: string): string {
  const ordered = mounts
    .map((m) => ({ ...m, target: normalizeTarget(m.target) }))
    .sort((a, b) => a.target.split('/').length - b.target.split('/').length || a.target.localeCompare(b.target));
  const lines = ordered.map((m) =>
    `bind ${shellQuote(m.source)} "$(readlink -m ${shellQuote(m.target)})" ${m.kind} ${m.readOnly ? 'ro' : 'rw'} ${shellQuote(stageDir)}`);
  return `${FUNCTIONS}${lines.join('\n')}\nexec "$@"\n`;
}
