#!/usr/bin/env bash
# CI step: the peer majors users have besides the ones the lockfile resolves. In a scratch copy of
# the tracked files (the main run's lockfile is untouched), pnpm overrides pin ioredis 6, Express 4
# and Fastify 5.0.0 (the oldest Fastify 5); then the type check and the Redis, session, adapter,
# conformance, HTTP and migration suites run against them. The lockfile run covers ioredis 5,
# Express 5 and the latest Fastify 5.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-peers-XXXXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$root" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$work"
cd "$work"
node -e '
const fs = require("node:fs")
const file = "pnpm-workspace.yaml"
const pins = { ioredis: "6.0.0", express: "4.21.2", "@types/express": "4.17.21", fastify: "5.0.0" }
const lines = Object.entries(pins).map(([name, version]) => `  "${name}": ${version}`).join("\n")
fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/^overrides:\n/m, `overrides:\n${lines}\n`))
'
pnpm install --no-frozen-lockfile --prefer-offline --reporter=silent
node -e 'for (const p of ["ioredis", "express", "fastify"]) console.log(`peer-ranges: ${p} ${require(`${p}/package.json`).version}`)'
pnpm typecheck
pnpm vitest run packages/redis packages/express packages/fastify packages/session \
  test/conformance.test.ts test/http-e2e.test.ts test/redis-cluster.test.ts \
  test/session-store.test.ts test/session-frameworks.test.ts test/session-cluster.test.ts \
  test/migration/express-rate-limit.test.ts test/migration/fastify-rate-limit.test.ts \
  test/migration/rate-limiter-flexible.test.ts
