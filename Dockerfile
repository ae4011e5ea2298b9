# The server image used by compose.yaml: API replicas run `node dist/main.js`, the services process
# `node dist/cli.js services start`. A container always gets DATABASE_URL, so the embedded PostgreSQL (an
# optional dependency, ~100 MB of binaries) is left out: without DATABASE_URL the server stops with one line
# saying so. PostgreSQL 15 everywhere (embedded, compose, CI).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4200
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4200
# Readiness of the API (database reachable, enabled services running); the services process overrides it
# (compose.yaml) with /ready on its SERVICES_METRICS_PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4200) + '/api/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
