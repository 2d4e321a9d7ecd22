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

# percona-toolkit: pt-table-sync is the independent check of the verification tests and the baseline of
# bench/verify. Installed as root only; elsewhere the tests that use it say they skip.
if ! command -v pt-table-sync >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing percona-toolkit…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq percona-toolkit >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq percona-toolkit >/dev/null; }
  else
    echo "bootstrap: pt-table-sync not found and not root: install percona-toolkit (apt-get install -y percona-toolkit) to run the tests that compare with it" >&2
  fi
fi
