#!/bin/sh
# Builds the production artifact of each named service: a self-contained directory holding the
# package's dist/ and only its production dependencies (`pnpm deploy --prod`), started with plain
# `node dist/...` and no source condition.
#
# This is the only place the build commands live: the Dockerfile's build stage runs it, and so does
# the deployment test (packages/deployment), so what the test starts is what the images hold.
#
# usage: scripts/build-service.sh <outdir> <service>...
#   service: gateway | links | thumbnail-worker | cli
#   writes <outdir>/<service>/ for each (replacing what was there)
# environment:
#   PNPM_STORE_DIR  the pnpm store to install from (the Dockerfile points it at a build cache)
set -eu

usage() {
  echo "usage: $0 <outdir> <service>...   (service: gateway | links | thumbnail-worker | cli)" >&2
  exit 2
}

[ "$#" -ge 2 ] || usage
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
shift

package_of() {
  case "$1" in
    gateway) echo @imageapi/gateway ;;
    links) echo @imageapi/links ;;
    thumbnail-worker) echo @imageapi/thumbnail-worker ;;
    cli) echo @imageapi/cli ;;
    *) echo "unknown service: $1" >&2; usage ;;
  esac
}

filters=
for service in "$@"; do
  filters="$filters --filter=$(package_of "$service")"
done

cd "$(dirname "$0")/.."

store=
if [ -n "${PNPM_STORE_DIR:-}" ]; then store="--store-dir=$PNPM_STORE_DIR"; fi

export TURBO_TELEMETRY_DISABLED=1
export CI="${CI:-true}"

# 1. Every dependency the lockfile names, dev ones included (the build needs TypeScript and turbo).
pnpm install --frozen-lockfile --prefer-offline --reporter=append-only $store

# 2. tsc for these services and the workspace packages they depend on (turbo: ^build).
# shellcheck disable=SC2086 # $filters is a list of flags
pnpm exec turbo run build $filters --output-logs=errors-only

# 3. One directory per service: its package (dist/ in it) and its production dependencies only,
#    workspace packages copied in rather than linked.
for service in "$@"; do
  rm -rf "${outdir:?}/$service"
  pnpm --filter "$(package_of "$service")" deploy --prod --frozen-lockfile --prefer-offline --reporter=append-only $store "$outdir/$service"
done

echo "built $* into $outdir"
