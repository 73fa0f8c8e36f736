# syntax=docker/dockerfile:1
# GasRápido: one image for every node. Which services a container runs is chosen
# at run time with SERVICES (comma list, e.g. SERVICES=orders,payments; unset = all).
#
#   docker build -t gasrapido:0.1.0 .
#   docker run -e SERVICES=products -e TRANSPORTER=nats://nats:4222 gasrapido:0.1.0

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: dev dependencies + TypeScript -> dist/ ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json moleculer.config.ts ./
COPY lib ./lib
COPY mixins ./mixins
COPY middlewares ./middlewares
COPY services ./services
RUN npm run build

# --- runtime: production dependencies, compiled code, web app ----------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HEALTH_PORT=3001 \
    METRICS_PORT=3030 \
    LOG_FORMAT=json \
    DATA_DIR=/app/data \
    SERVICEDIR=dist/services \
    SHUTDOWN_TIMEOUT_MS=10000
# SERVICEDIR matters: moleculer-runner resolves the names in SERVICES against it
# (without it, SERVICES=orders,payments would look for ./orders.service.js and
# start no service at all). With SERVICES unset it loads every *.service.js there.
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
    && mkdir -p /app/data && chown node:node /app/data
COPY --from=build /app/dist ./dist
COPY public ./public
COPY scripts ./scripts

# uid 1000 (the node user): Kubernetes' runAsNonRoot needs the number (k8s/ sets runAsUser: 1000).
USER 1000:1000
# SIGTERM starts the graceful shutdown (readiness 503, streams told to reconnect, running requests
# finish within SHUTDOWN_TIMEOUT_MS); Node is PID 1 and handles it itself.
STOPSIGNAL SIGTERM
EXPOSE 3000 3001 3030
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.HEALTH_PORT||3001)+'/live',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# scripts/start.js: moleculer-runner with dist/moleculer.config.js, without the runner's own
# env-to-options overwrite (every setting is read in lib/config.ts).
CMD ["node", "scripts/start.js"]
