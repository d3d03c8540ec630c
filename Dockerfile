# syntax=docker/dockerfile:1
#
# One Dockerfile for every imageapi process; choose one with --target:
#   gateway (the default, last stage), links, thumbnail-worker, and cli (one-shot: migrate,
#   initadmin, create-user). docker-compose.yml builds each target.
#
# The images hold no secret and no account: configuration comes from environment variables at
# run time, and the admin is created by `cli initadmin` when the stack starts.

# ---- build: install, compile and `pnpm deploy --prod` every service -------------------------
FROM node:20-bookworm-slim AS build
ENV CI=true TURBO_TELEMETRY_DISABLED=1 PNPM_STORE_DIR=/pnpm/store
RUN npm install --global pnpm@12.4.2
WORKDIR /src
COPY . .
# The build commands live in that one script; the deployment test (packages/deployment) runs it
# too and starts what it produces, so the images and the test cannot drift apart.
RUN --mount=type=cache,id=imageapi-pnpm-store,target=/pnpm/store \
    sh scripts/build-service.sh /out gateway links thumbnail-worker cli

# ---- runtime: Node on Debian slim, a non-root user, production mode ------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# the image's unprivileged user (uid 1000); the files below stay root's, so it cannot change them
USER node

# ---- cli: `docker compose run --rm migrate`, or any command: <image> create-user --email ... ----
FROM runtime AS cli
COPY --from=build /out/cli /app
HEALTHCHECK NONE
ENTRYPOINT ["node", "dist/main.js"]
CMD ["--help"]

# ---- thumbnail-worker: no API; its own small HTTP server has /healthz, /readyz, /metrics ----
FROM runtime AS thumbnail-worker
COPY --from=build /out/thumbnail-worker /app
ENV HOST=0.0.0.0 WORKER_HTTP_PORT=8002
EXPOSE 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WORKER_HTTP_PORT||8002)+'/healthz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

# ---- links: verifies view-link tokens, streams the files (internal, port 8001) ---------------
FROM runtime AS links
COPY --from=build /out/links /app
ENV HOST=0.0.0.0 PORT=8001
EXPOSE 8001
# healthy while /healthz answers 200 (the process serves; /readyz would also probe its dependencies)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8001)+'/healthz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server.js"]

# ---- gateway: the public API (port 8000) -----------------------------------------------------
FROM runtime AS gateway
COPY --from=build /out/gateway /app
# A smaller young generation: the gateway's garbage is short-lived stream state, and V8's default
# (16 MiB semi-spaces) kept ~20–30 MiB more resident under 50 concurrent uploads for no gain in
# throughput; 4 MiB saved more but cost ~20 ms more CPU per upload (BENCHMARKS.md, benchmark 3).
ENV HOST=0.0.0.0 PORT=8000 NODE_OPTIONS=--max-semi-space-size=8
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server.js"]
