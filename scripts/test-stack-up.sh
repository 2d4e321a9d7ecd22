#!/usr/bin/env bash
# Brings up (or reuses) the test stack that scripts/run-tests.js uses, and leaves it running.
set -euo pipefail
cd "$(dirname "$0")/.."
export OTTERFLOW_HOME="${OTTERFLOW_TEST_HOME:-$PWD/.otterflow/test-stack}"
export OTTERFLOW_SOURCE_PORT=23306 OTTERFLOW_TARGET_PORT=23307 OTTERFLOW_TEMPORAL_PORT=27233
export OTTERFLOW_TEMPORAL_UI_PORT=28233 OTTERFLOW_API_PORT=28080 OTTERFLOW_METRICS_PORT=29464
export OTTERFLOW_MYSQL_SOURCE_PORT=23316 OTTERFLOW_MYSQL_TARGET_PORT=23317
exec node bin/otterflow.js dev up --infra-only --with-mysql
