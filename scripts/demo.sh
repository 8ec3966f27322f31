#!/usr/bin/env sh
# The one-command demo on a fresh Debian machine: installs what is missing (MariaDB from
# Debian's packages, the npm dependencies, the build), then runs `cps-mysql demo`: a manager
# with a local service of one master and two replicas, until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
node scripts/setup.mjs
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# Through its #! line, which gives node its flags (src/cli/main.ts).
exec dist/cli/main.js demo "$@"
