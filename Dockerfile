# syntax=docker/dockerfile:1
# Two images from one file. The default target (`runtime`) holds only the pipeline's production modules and its
# code compiled ahead of time (`npm run build`: src/ → dist/, plain JavaScript): no TypeScript, no tsx at run
# time, no emulators, no DuckDB. tsx on Node 20 runs a loader thread (a second V8 isolate) and keeps source maps:
# about 36 MB more in every worker before its first row (docs/benchmarks.md). The `demo` target adds the
# emulators workspace (lsa-emulators), which is TypeScript, so `lsa demo` and `lsa emulators` run in a container
# from the sources through tsx, as in a checkout.
# The Node major is a build argument: CI runs on 20; the image builds unchanged on the current LTS
# (`docker build --build-arg NODE_VERSION=24 .`).
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --workspaces=false: the emulators are a workspace and a dev dependency; production never installs them.
RUN npm ci --omit=dev --workspaces=false --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY emulators/package.json ./emulators/
RUN npm ci --no-audit --no-fund
# The emulators' sources only for the type check (`lsa demo` imports them); the build emits src/ alone.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY emulators/src ./emulators/src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS base
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system lsa && useradd --system --gid lsa --home /app lsa \
  && mkdir -p /var/lib/lsa/spool && chown -R lsa:lsa /var/lib/lsa
# package.json: `lsa --version` and the build info read it; reports/: the report views' SQL. Both are found
# relative to the code (src/ or dist/ alike, one level below the app directory).
COPY package.json ./
COPY reports ./reports
ENV LSA_CONFIG=/etc/lsa/lsa.yaml

FROM node:${NODE_VERSION}-bookworm-slim AS demo-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY emulators/package.json ./emulators/
RUN npm ci --omit=dev --no-audit --no-fund

FROM base AS demo
COPY --from=demo-deps /app/node_modules ./node_modules
COPY bin ./bin
COPY src ./src
COPY emulators ./emulators
ENTRYPOINT ["node", "bin/lsa.js"]
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*
USER lsa
EXPOSE 3000
CMD ["demo", "--dashboard-host", "0.0.0.0"]

FROM base AS runtime
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
ENTRYPOINT ["node", "dist/cli/run.js"]
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
