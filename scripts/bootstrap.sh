#!/usr/bin/env bash
# Installs what a fresh machine lacks: npm packages, the MariaDB server, the temporal CLI and (as root)
# MySQL 9 in .tools/mysql-root.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "bootstrap: Node.js 20 or newer is required (apt-get install -y nodejs npm)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "bootstrap: Node.js $(node --version) is too old; Otterflow needs 20 or newer" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm packages…" >&2
  # `npm install`, not `npm ci`: npm 11 writes lock files without the other platforms' optional
  # packages (biome, swc), which `npm ci` then rejects as out of sync. Versions still come from the lock.
  npm install --no-audit --no-fund --loglevel=error
fi

# MariaDB server, the temporal CLI and MySQL 9: the same code that `otterflow dev up` uses.
node bin/otterflow.js dev install
