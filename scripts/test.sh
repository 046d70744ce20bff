#!/usr/bin/env bash
# The test command of sqlx-sessions.
#
# Installs missing system dependencies (PostgreSQL and MariaDB servers, chromium
# and chromedriver for the demo's browser tests, python3 with PyJWT and cryptography
# for the independent check of the demo's access tokens), starts a throw-away PostgreSQL
# server and a throw-away MariaDB server on free ports of 127.0.0.1, exports
# PG_TEST_URL and MYSQL_TEST_URL for the tests and runs the whole cargo test
# suite. The servers and their data are removed on exit, also when tests fail.
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

# Prints the MariaDB server binary, when installed.
find_mariadbd() {
    local bin
    for bin in /usr/sbin/mariadbd /usr/sbin/mysqld "$(command -v mariadbd 2>/dev/null)"; do
        if [ -n "$bin" ] && [ -x "$bin" ]; then
            printf '%s\n' "$bin"
            return
        fi
    done
}

missing=()
if [ -z "$(find_pg_bindir)" ]; then missing+=(postgresql); fi
if [ -z "$(find_mariadbd)" ] || ! command -v mariadb-install-db >/dev/null 2>&1 \
    || ! command -v mariadb-admin >/dev/null 2>&1; then
    missing+=(mariadb-server)
fi
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ! -x /usr/bin/chromedriver ]; then missing+=(chromium-driver); fi
# Debian's packages go to the system interpreter (the demo's test looks for it there too).
if ! /usr/bin/python3 -c 'import jwt' >/dev/null 2>&1; then missing+=(python3-jwt); fi
if ! /usr/bin/python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' >/dev/null 2>&1; then
    missing+=(python3-cryptography)
fi

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
/usr/bin/python3 -c 'import jwt, cryptography.hazmat.primitives.asymmetric.ed25519' >/dev/null 2>&1 \
    || die "python3 with PyJWT and cryptography not found after installation"
log "using PostgreSQL from $PG_BIN"
MY_BIN="$(find_mariadbd)"
[ -n "$MY_BIN" ] || die "the MariaDB server (mariadbd) not found after installation"
log "using MariaDB server $MY_BIN"

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
MY_TMP=""
MY_PID=""

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
    if [ -n "$MY_PID" ]; then
        log "stopping MariaDB"
        stop_mariadb
    fi
    if [ -n "$MY_TMP" ] && [ -d "$MY_TMP" ]; then
        rm -rf "$MY_TMP"
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
# Throw-away MariaDB server
# ---------------------------------------------------------------------------
# The same unprivileged user as PostgreSQL when run as root (mariadbd refuses to
# run as root without --user=root).
as_my() {
    if [ "$IS_ROOT" -eq 1 ]; then
        (cd "$MY_TMP" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$MY_TMP" && "$@")
    fi
}

# Stops the server started below: TERM to the server (by its pid file, so that
# runuser exits with it), then to the process started here, KILL after 10 s.
stop_mariadb() {
    local i server=""
    if [ -f "$MY_TMP/mysqld.pid" ]; then server="$(cat "$MY_TMP/mysqld.pid" 2>/dev/null)"; fi
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null || true
    else
        kill -TERM "$MY_PID" 2>/dev/null || true
    fi
    for i in $(seq 1 100); do
        kill -0 "$MY_PID" 2>/dev/null || break
        if [ "$i" -eq 50 ]; then kill -TERM "$MY_PID" 2>/dev/null || true; fi
        sleep 0.1
    done
    if [ -n "$server" ]; then kill -KILL "$server" 2>/dev/null || true; fi
    kill -KILL "$MY_PID" 2>/dev/null || true
    wait "$MY_PID" 2>/dev/null || true
    MY_PID=""
    return 0
}

if [ "$IS_ROOT" -eq 1 ]; then
    MY_TMP="$(mktemp -d /tmp/sqlx-sessions-my.XXXXXX)"
    chown "$PG_USER" "$MY_TMP"
else
    MY_TMP="$(mktemp -d "${TMPDIR:-/tmp}/sqlx-sessions-my.XXXXXX")"
fi
chmod 700 "$MY_TMP"
if [ "${#MY_TMP}" -gt 80 ]; then
    die "temp dir path too long for a Unix socket: $MY_TMP (set TMPDIR to a shorter path)"
fi

log "initializing MariaDB data directory in $MY_TMP/data (as $PG_USER)"
# `normal`: root without a password over TCP, like the PostgreSQL server's trust.
if ! as_my mariadb-install-db --no-defaults --datadir="$MY_TMP/data" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    >"$MY_TMP/install.log" 2>&1; then
    cat "$MY_TMP/install.log" >&2
    die "mariadb-install-db failed"
fi

attempt=0
while :; do
    attempt=$((attempt + 1))
    MY_PORT="$(free_port)" || die "could not find a free TCP port"
    log "starting MariaDB on 127.0.0.1:$MY_PORT"
    rm -f "$MY_TMP/server.log" "$MY_TMP/mysqld.pid"
    # Durability off, as for PostgreSQL: the data is thrown away.
    my_args=(--no-defaults --datadir="$MY_TMP/data" --port="$MY_PORT" --bind-address=127.0.0.1
        --socket="$MY_TMP/mysqld.sock" --pid-file="$MY_TMP/mysqld.pid"
        --log-error="$MY_TMP/server.log" --skip-name-resolve --skip-log-bin
        --innodb-flush-log-at-trx-commit=0 --max-connections=500)
    if [ "$IS_ROOT" -eq 1 ]; then
        (cd "$MY_TMP" && exec runuser -u "$PG_USER" -- "$MY_BIN" "${my_args[@]}") &
    else
        (cd "$MY_TMP" && exec "$MY_BIN" "${my_args[@]}") &
    fi
    MY_PID=$!
    ready=0
    for _ in $(seq 1 300); do # at most 30 s
        if ! kill -0 "$MY_PID" 2>/dev/null; then break; fi
        if mariadb-admin --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root \
            --connect-timeout=2 ping >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    if [ "$ready" -eq 1 ]; then break; fi

    stop_mariadb
    if [ "$attempt" -lt 3 ] && grep -q 'Address already in use\|Can.t start server: Bind' \
        "$MY_TMP/server.log" 2>/dev/null; then
        log "port $MY_PORT is taken, retrying"
        continue
    fi
    log "MariaDB did not become ready; server log:"
    cat "$MY_TMP/server.log" >&2 || true
    die "MariaDB failed to start"
done

export MYSQL_TEST_URL="mysql://root@127.0.0.1:$MY_PORT/mysql"
export SQLX_SESSIONS_REQUIRE_MYSQL=1
log "MariaDB ready: MYSQL_TEST_URL=$MYSQL_TEST_URL"

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
