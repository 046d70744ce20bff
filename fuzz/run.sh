#!/usr/bin/env bash
# Builds and runs one fuzz target on the STABLE toolchain: libFuzzer (from libfuzzer-sys,
# compiled with the system C++ compiler) plus LLVM's sanitizer-coverage instrumentation
# enabled through stable `-C passes` / `-C llvm-args` flags. No nightly, no cargo-fuzz.
#
# Usage: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags]
#   fuzz/run.sh tokens 600      # token parsing, digests, no-query refusals
#   fuzz/run.sh headers 600     # the axum token sources (cookie, X-Auth-Token, Bearer)
# The corpus grows in fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET), crashes land in
# fuzz/artifacts/TARGET, and the libFuzzer log in fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

target="${1:?usage: fuzz/run.sh TARGET [SECONDS]}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))

host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# `--target` keeps the instrumentation off build scripts and proc macros.
cargo +stable build --release --target "$host" --bin "$target"

seeds="seeds/$target"
case "$target" in tokens) seeds="seeds/tokens" ;; headers) seeds="seeds/headers" ;; esac
mkdir -p "corpus/$target" "artifacts/$target" logs
exec "target/$host/release/$target" "corpus/$target" "$seeds" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -timeout=10 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 "$@" \
    2>&1 | tee "logs/$target.log"
