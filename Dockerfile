# syntax=docker/dockerfile:1
# Two images from one file. The default target (`runtime`) holds only the pipeline's production modules and its
# sources: no emulators, no DuckDB. The `demo` target adds the emulators workspace (lsa-emulators) so
# `lsa demo` and `lsa emulators` run in a container. Both run TypeScript through tsx: nothing to compile.
# The Node major is a build argument: CI runs on 20; the image builds unchanged on the current LTS
# (`docker build --build-arg NODE_VERSION=24 .`).
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --workspaces=false: the emulators are a workspace and a dev dependency; production never installs them.
RUN npm ci --omit=dev --workspaces=false --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS base
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system lsa && useradd --system --gid lsa --home /app lsa \
  && mkdir -p /var/lib/lsa/spool && chown -R lsa:lsa /var/lib/lsa
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY reports ./reports
ENV LSA_CONFIG=/etc/lsa/lsa.yaml
ENTRYPOINT ["node", "bin/lsa.js"]

FROM node:${NODE_VERSION}-bookworm-slim AS demo-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY emulators/package.json ./emulators/
RUN npm ci --omit=dev --no-audit --no-fund

FROM base AS demo
COPY --from=demo-deps /app/node_modules ./node_modules
COPY emulators ./emulators
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*
USER lsa
EXPOSE 3000
CMD ["demo", "--dashboard-host", "0.0.0.0"]

FROM base AS runtime
COPY --from=deps /app/node_modules ./node_modules
# V8's young generation at most 4 MB a semi-space (Node's default grows it to 16 MB when allocation is fast): an
# extract allocates fast and briefly, and with the default a worker's peak RSS on a 1M-row window was 166-197 MB
# against about 150 with the cap, at the same speed (docs/benchmarks.md). Workers, the scheduler and the
# dashboard all start here; `npm run bench -- extract` reads this line to run `ours` with the same flags.
ENV NODE_OPTIONS="--max-semi-space-size=4"
USER lsa
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.LSA_HEALTH_PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["start", "--role", "all"]
