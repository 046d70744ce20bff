#!/usr/bin/env bash
# Soak test of the demo: steady load on loopback for SOAK_SECS seconds (default 600) with
# the pruners running every 2 seconds; zero errors and flat memory required. Prints a
# sample every 10 seconds and a summary line; the log is kept in target/soak.log.
#
# Usage:
#   scripts/soak.sh                                   # 10 minutes on a SQLite file
#   SOAK_SECS=60 scripts/soak.sh                      # a short run
#   SOAK_DATABASE_URL=postgres://... scripts/soak.sh  # on PostgreSQL
#   SOAK_PROFILE=release scripts/soak.sh              # optimized build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

args=(test -p sqlx-sessions-demo --test soak)
if [ "${SOAK_PROFILE:-}" = "release" ]; then args+=(--release); fi
mkdir -p target
SOAK_SECS="${SOAK_SECS:-600}" cargo "${args[@]}" -- --ignored --nocapture --test-threads=1 \
    2>&1 | tee target/soak.log
