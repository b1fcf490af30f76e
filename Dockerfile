# syntax=docker/dockerfile:1
# Multi-stage: dependencies are installed in a build stage, the runtime image holds only production modules and
# the sources (the project runs its TypeScript through tsx: nothing to compile), and runs as a non-root user.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system lsa && useradd --system --gid lsa --home /app lsa \
  && mkdir -p /var/lib/lsa/spool && chown -R lsa:lsa /var/lib/lsa
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
USER lsa
ENV LSA_CONFIG=/etc/lsa/lsa.yaml
ENTRYPOINT ["node", "bin/lsa.js"]
CMD ["start", "--role", "all"]
