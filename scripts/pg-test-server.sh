#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for hypersweep's PostgreSQL tests.
#
#   scripts/pg-test-server.sh          prints the server's URL
#   source scripts/pg-test-server.sh   also exports HYPERSWEEP_TEST_POSTGRES,
#                                      and hs_pg_stop stops the server
#
# The cluster lives in a fresh temp directory (printed to stderr, with the
# command that stops it), listens on 127.0.0.1 only, on the first free port
# from 5433, with trust authentication for user `postgres`: a test server,
# never a real one. Needs the Debian package `postgresql` (binaries in
# /usr/lib/postgresql/<version>/bin; PG_BIN overrides). initdb refuses to run
# as root, so as root the cluster is created and run as the `postgres` user.

hs_pg_start() {
    local bin="${PG_BIN:-}"
    if [[ -z "$bin" ]]; then
        bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    fi
    if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
        echo "pg-test-server: no PostgreSQL binaries found (apt-get install -y postgresql)" >&2
        return 1
    fi

    local as=()
    if [[ "$(id -u)" == 0 ]]; then
        as=(runuser -u postgres --)
    fi

    local dir
    dir="$(mktemp -d /tmp/hypersweep-pg.XXXXXX)" || return 1
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$dir" || return 1
    fi

    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "pg-test-server: initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        return 1
    }

    # A port seen free can be taken before the server binds it, so starting
    # is retried on the next port.
    local port
    for port in $(seq 5433 5533); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            continue
        fi
        if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
            start >/dev/null 2>&1; then
            break
        fi
        port=""
    done
    if [[ -z "$port" ]]; then
        echo "pg-test-server: the server did not start; its log:" >&2
        cat "$dir/server.log" >&2
        return 1
    fi

    # pg_ctl -w has waited for startup; this confirms TCP connections work.
    local i
    for i in $(seq 1 60); do
        if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
            break
        fi
        sleep 0.5
    done
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || {
        echo "pg-test-server: no connection on 127.0.0.1:$port" >&2
        return 1
    }

    # For hs_pg_stop.
    HS_PG_DIR="$dir"
    HS_PG_CTL=("${as[@]}" "$bin/pg_ctl")
    HYPERSWEEP_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
    echo "pg-test-server: data in $dir; stop with: ${as[*]} $bin/pg_ctl -D $dir/data stop" >&2
    echo "$HYPERSWEEP_TEST_POSTGRES"
}

# Stops the server the last hs_pg_start started and deletes its directory
# (e.g. `trap hs_pg_stop EXIT` after sourcing this file); nothing if none.
hs_pg_stop() {
    [[ -n "${HS_PG_DIR:-}" ]] || return 0
    "${HS_PG_CTL[@]}" -D "$HS_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$HS_PG_DIR"
    HS_PG_DIR=""
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    hs_pg_start && export HYPERSWEEP_TEST_POSTGRES
else
    set -euo pipefail
    hs_pg_start
fi
