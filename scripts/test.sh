#!/usr/bin/env bash
# The test command of sqlx-sessions.
#
# Installs missing system dependencies (PostgreSQL server, chromium and
# chromedriver for the demo's browser tests), starts a throw-away PostgreSQL
# server on a free port of 127.0.0.1, exports PG_TEST_URL for the tests and runs
# the whole cargo test suite. The server and its data are removed on exit.
#
# Usage: scripts/test.sh [extra cargo test arguments]
#   scripts/test.sh                      # everything
#   scripts/test.sh -p sqlx-sessions     # one package
#   scripts/test.sh -- --nocapture       # arguments for the test binaries
set -euo pipefail

log() { printf '[test.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IS_ROOT=0
if [ "$(id -u)" -eq 0 ]; then IS_ROOT=1; fi

# ---------------------------------------------------------------------------
# System dependencies
# ---------------------------------------------------------------------------
# Prints the bin dir of the highest installed PostgreSQL server version.
find_pg_bindir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] \
            && [ -x "$dir/pg_isready" ]; then
            printf '%s\n' "$dir"
        fi
    done | sort -V | tail -n 1
}

missing=()
if [ -z "$(find_pg_bindir)" ]; then missing+=(postgresql); fi
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ! -x /usr/bin/chromedriver ]; then missing+=(chromium-driver); fi

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$IS_ROOT" -ne 1 ]; then
        die "missing system packages: ${missing[*]}. Install them as root:
    apt-get update && apt-get install -y ${missing[*]}
or run this script as root (it installs them itself)."
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "missing system packages (${missing[*]}) and apt-get is not available"
    log "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q "${missing[@]}" >&2
fi

PG_BIN="$(find_pg_bindir)"
[ -n "$PG_BIN" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium not found after installation"
[ -x /usr/bin/chromedriver ] || die "/usr/bin/chromedriver not found after installation"
log "using PostgreSQL from $PG_BIN"

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
        export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    else
        die "cargo not found (install the Rust toolchain, e.g. with rustup)"
    fi
fi

# ---------------------------------------------------------------------------
# Throw-away PostgreSQL server
# ---------------------------------------------------------------------------
PG_USER="$(id -un)"
PG_TMP=""
PG_STARTED=0

# Runs a command as the user owning the PostgreSQL server, from inside the temp
# dir (the repository may not be readable by that user).
as_pg() {
    if [ "$IS_ROOT" -eq 1 ]; then
        (cd "$PG_TMP" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$PG_TMP" && "$@")
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    set +e
    if [ "$PG_STARTED" -eq 1 ]; then
        log "stopping PostgreSQL"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -s stop >/dev/null 2>&1
    fi
    if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
        rm -rf "$PG_TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "$IS_ROOT" -eq 1 ]; then
    # PostgreSQL refuses to run as root: use an unprivileged system user.
    PG_USER=sqlxsess
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
        log "creating system user $PG_USER"
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$PG_USER"
    fi
    # /tmp is traversable by every user, unlike a private $TMPDIR could be.
    PG_TMP="$(mktemp -d /tmp/sqlx-sessions-pg.XXXXXX)"
    chown "$PG_USER" "$PG_TMP"
else
    PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/sqlx-sessions-pg.XXXXXX")"
fi
chmod 700 "$PG_TMP"
as_pg mkdir "$PG_TMP/sock"

# Unix socket paths are limited to ~107 bytes.
if [ "${#PG_TMP}" -gt 80 ]; then
    die "temp dir path too long for a Unix socket: $PG_TMP (set TMPDIR to a shorter path)"
fi

log "initializing PostgreSQL cluster in $PG_TMP/data (as $PG_USER)"
if ! as_pg "$PG_BIN/initdb" -D "$PG_TMP/data" -A trust -U postgres -E UTF8 --no-locale \
    --no-sync >"$PG_TMP/initdb.log" 2>&1; then
    cat "$PG_TMP/initdb.log" >&2
    die "initdb failed"
fi

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
        return
    fi
    local port i
    for i in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return
        fi
    done
    return 1
}

PG_PORT=""
attempt=0
while :; do
    attempt=$((attempt + 1))
    PG_PORT="$(free_port)" || die "could not find a free TCP port"
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    rm -f "$PG_TMP/server.log"
    PG_STARTED=1
    ready=0
    # pg_ctl -w returns early with an error when the server exits during startup.
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 30 -s \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_TMP/sock \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null 2>&1; then
        for _ in $(seq 1 300); do # at most 30 s
            if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; then
                ready=1
                break
            fi
            sleep 0.1
        done
    fi
    if [ "$ready" -eq 1 ]; then break; fi

    as_pg "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -s stop >/dev/null 2>&1 || true
    PG_STARTED=0
    # Someone grabbed the port between probing and binding: try another one.
    if [ "$attempt" -lt 3 ] && grep -q 'could not bind\|Address already in use' \
        "$PG_TMP/server.log" 2>/dev/null; then
        log "port $PG_PORT is taken, retrying"
        continue
    fi
    log "PostgreSQL did not become ready; server log:"
    cat "$PG_TMP/server.log" >&2 || true
    die "PostgreSQL failed to start"
done

export PG_TEST_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export SQLX_SESSIONS_REQUIRE_PG=1
export RUST_BACKTRACE=1
log "PostgreSQL ready: PG_TEST_URL=$PG_TEST_URL"

# ---------------------------------------------------------------------------
# Test suite
# ---------------------------------------------------------------------------
cargo_args=(test --all-features)
if [ -f Cargo.lock ]; then cargo_args+=(--locked); fi

# `--workspace` overrides `-p`, so only add it when no package was selected.
select_pkg=0
for arg in "$@"; do
    case "$arg" in
        --) break ;;
        -p | -p?* | --package | --package=*) select_pkg=1 ;;
    esac
done
if [ "$select_pkg" -eq 0 ]; then cargo_args+=(--workspace); fi

log "running: cargo ${cargo_args[*]} $*"
set +e
cargo "${cargo_args[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 0 ]; then
    log "tests passed"
else
    log "tests failed (exit code $status)"
fi
exit "$status"
