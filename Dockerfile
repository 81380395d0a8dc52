# syntax=docker/dockerfile:1
# The TAMS gateway: Node 22, production dependencies only, running as the non-root `node` user
# (uid 1000). Build: docker build -t tams-gateway:0.1.0 .   (or docker compose build)

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The web pages (GraphQL IDE, explorer) are bundled here, with the dev dependencies, into
# dist/web: the runtime image serves them and needs neither esbuild nor network.
COPY scripts/build-web.js ./scripts/build-web.js
COPY schema ./schema
COPY web ./web
RUN npx tsc -p tsconfig.build.json \
 && node scripts/build-web.js \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    TAMS_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/web ./dist/web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the gateway's graceful shutdown; node runs as PID 1 and handles it itself.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
