# The Weft image: one image for `weft agent` (the DaemonSet) and `weft ca` (the Deployment).
# Every build step is a make target, so the same steps run on machines without a Docker engine
# (CI runs `make dist` and tests the staged app in test/image/).
#
#   docker build -t ghcr.io/weft-mesh/weft:0.1.0 .

# --- build: bpf objects (clang) and TypeScript, staged as /app would be ---
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# scripts/setup.sh (apt, bpffs) is for developer machines and CI; the image build has its tools.
RUN make ts bpf && ./scripts/stage-dist.sh

# --- runtime: Node 20 and libbpf, nothing to compile with ---
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/out/weft /app
RUN ln -s /app/bin/weft /usr/local/bin/weft
ENTRYPOINT ["weft"]
CMD ["agent"]
