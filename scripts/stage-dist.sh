#!/usr/bin/env bash
# `make dist`: lays out the app exactly as the image carries it under /app - the compiled agent
# (dist/agent, dist/native; no tests), the bpf objects, the .proto files, bin/weft and the
# production node_modules - in out/weft/. The Dockerfile's build stage runs this same target, so
# what CI checks (test/image/) is what ships. Run through `make dist`, which builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/weft
rm -rf "$out.tmp"
mkdir -p "$out.tmp/dist" "$out.tmp/bpf"
cp -r dist/agent dist/native "$out.tmp/dist/"
cp -r bpf/build "$out.tmp/bpf/build"
cp -r proto bin package.json package-lock.json "$out.tmp/"
# Production dependencies only, without asking the registry: copy what `npm ci` installed and
# let npm remove the development ones.
cp -r node_modules "$out.tmp/node_modules"
(cd "$out.tmp" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
rm -rf "$out"
mv "$out.tmp" "$out"
echo "staged the app in $out ($(du -sh "$out" | cut -f1))"
