# probewatch: `docker build -t probewatch .`, then `docker run probewatch run`.
# Two stages: dependencies are installed (with npm, and whatever build tools
# optional native packages need) in the first; the second holds only Node,
# the production node_modules and the sources, runs as the unprivileged
# `node` user, and has no npm, npx, corepack or yarn to install anything.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY detectors ./detectors
COPY schemas ./schemas
COPY tsconfig.json ./

# The example gateway (docker compose --profile example): the model it serves is
# trained at start-up from vega-datasets, a dev dependency, so its image has the
# full dependencies; it runs as `node` too, with no package manager.
FROM node:20-bookworm-slim AS example-gateway-build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY detectors ./detectors
COPY schemas ./schemas
COPY examples ./examples
COPY benchmarks/quality ./benchmarks/quality
COPY tsconfig.json ./

FROM node:20-bookworm-slim AS example-gateway
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
COPY --from=example-gateway-build --chown=root:root /app /app
ENV GATEWAY_HOST=0.0.0.0
USER node
EXPOSE 8080
ENTRYPOINT ["node", "--import", "tsx", "examples/gateway/main.ts", "-c", "examples/probewatch.yaml"]

FROM node:20-bookworm-slim AS runtime
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
# Owned by root and read-only to the service user: the process cannot rewrite its own code.
COPY --from=build --chown=root:root /app /app
ENV NODE_ENV=production \
    PROBEWATCH_HTTP_HOST=0.0.0.0
USER node
EXPOSE 9464
ENTRYPOINT ["/app/bin/probewatch"]
CMD ["run"]
