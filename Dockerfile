# vmres container image: the compiled service and the `vmres` CLI on Node 22.
#
#   docker build -t vmres .
#   docker run --init -p 3000:3000 -e DATABASE_URL=postgres://… vmres
#   docker run --rm -e DATABASE_URL=postgres://… vmres node bin/vmres.js status
#
# See docs/operations.md, "Container image". No `# syntax=` line on purpose:
# it would make BuildKit fetch a frontend image, which fails on machines that
# cannot reach a registry; everything here works with the builder's own.

# Node 22 and npm on Debian bookworm. The tests build on a stand-in made
# locally with the same contents (test/docker/base-image.ts), as their
# machines cannot pull images.
ARG BASE_IMAGE=node:22-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Fixes to dependencies applied after install (patch-package; why each: its comment in the patch).
COPY patches patches
# Install scripts run only for the packages package.json's `allowScripts`
# allows (esbuild, the embedded PostgreSQL binaries): npm 10, the one Node 22
# ships, does not read that field and would run every package's scripts,
# including ssh2's attempt to compile optional native code. The list is read
# from package.json so the policy stays written in one place; an empty list
# must not reach `npm rebuild`, which would then rebuild everything.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npx --no-install patch-package --error-on-fail \
 && set -- $(node -p "Object.entries(require('./package.json').allowScripts ?? {}).filter(([, allowed]) => allowed === true).map(([name]) => name).join(' ')") \
 && if [ $# -gt 0 ]; then npm rebuild "$@"; fi
# The sources come after the dependencies, so a change to them reuses the layer above.
COPY tsconfig.json ./
COPY scripts/build.js scripts/build.js
COPY src src
COPY web web
# `npm run build` is what `prepare` runs on a plain `npm ci`; then only the
# runtime dependencies stay for the next stage.
# dist is a link to the build (dist-<hash>, see scripts/build.js); the image
# gets the build itself as a plain dist/ folder, as nothing rebuilds there.
RUN npm run build \
 && cp -RL dist /tmp/dist && rm -rf dist dist-* && mv /tmp/dist dist \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    EMBEDDED_PG_DIR=/data/postgres
# A user of its own with a fixed uid, so volumes and Kubernetes' runAsNonRoot
# can rely on it. /data is where the embedded PostgreSQL keeps its cluster
# when DATABASE_URL is unset (mount a volume there to keep it); PostgreSQL
# refuses to run as root, and here it runs as this user.
# (--no-log-init: a high uid would otherwise grow /var/log/lastlog to gigabytes of holes.)
RUN groupadd --gid 10001 vmres \
 && useradd --uid 10001 --gid vmres --no-log-init --create-home --home-dir /home/vmres --shell /usr/sbin/nologin vmres \
 && mkdir /data \
 && chown vmres:vmres /data \
 && chmod 0700 /data
WORKDIR /app
# Owned by root and read-only to vmres: the service never writes its own code.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
# Migrations, read at start from ../../drizzle relative to dist/db/client.js.
COPY drizzle drizzle
USER 10001:10001
EXPOSE 3000
# Node itself asks (the slim image has no curl), at PORT as the service reads
# it. /readyz rather than /healthz: once vmres has started, both answer 200
# exactly while the database answers; during start-up /healthz already
# answers 200 once the database answers, before migrations and the components
# are done, and Docker would call the container healthy, and compose start what
# depends on it, too early.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# CMD rather than ENTRYPOINT, so `docker run IMAGE node bin/vmres.js status`
# runs the CLI in the same image; exec form, so node gets SIGTERM itself and
# stops gracefully.
CMD ["node", "--enable-source-maps", "dist/main.js"]
