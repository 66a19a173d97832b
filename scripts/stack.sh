#!/usr/bin/env bash
# scripts/stack.sh: the local infrastructure for protostar.
#
# Runs private, loopback-only instances of the three engines protostar needs:
#
#   PostgreSQL 15 + pgvector 0.8   127.0.0.1:55432   data in .stack/pg
#   Redis (AOF, noeviction)        127.0.0.1:56379   data in .stack/redis
#   MinIO (S3)                     127.0.0.1:59000   data in .stack/minio
#                                  (console on 127.0.0.1:59001)
#
# Usage:
#   scripts/stack.sh up        install what is missing, then start everything
#   scripts/stack.sh down      stop our processes (data is kept)
#   scripts/stack.sh status    one line per service; exit 1 if one is down
#   scripts/stack.sh env       print `export` lines:  eval "$(scripts/stack.sh env)"
#
# Every step is idempotent: a second `up` reuses what is installed, built and
# running and takes seconds. Binaries that are slow to build (MinIO) are cached
# per user in ${PROTOSTAR_CACHE_DIR:-~/.cache/protostar}, so a fresh clone on
# the same machine starts quickly. Data, logs and pidfiles live in the
# checkout's git-ignored .stack/ directory.
#
# External services: when PROTOSTAR_DATABASE_URL, PROTOSTAR_REDIS_URL or
# PROTOSTAR_S3_ENDPOINT is already set (to something other than the local
# value `env` prints), the matching engine is neither installed nor started,
# and `env` passes the value through unchanged.
#
# Debian's own postgresql/redis-server services (5432/6379), which installing
# the packages may start, are left alone; we run separate instances.
#
# Progress goes to stderr with a "stack:" prefix; stdout carries only the
# output of `env` and `status`.

set -Eeuo pipefail

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
STACK_DIR="$REPO_ROOT/.stack"

# HOME can be missing in stripped-down CI environments.
USER_HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE_DIR=${PROTOSTAR_CACHE_DIR:-$USER_HOME/.cache/protostar}

PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=55432
PG_EXTENSION_DIR=/usr/share/postgresql/15/extension
PG_LIB_DIR=/usr/lib/postgresql/15/lib

REDIS_PORT=56379

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_MODULE=github.com/minio/minio
MINIO_DIR="$CACHE_DIR/minio-$MINIO_VERSION"
MINIO_BIN="$MINIO_DIR/minio"
MINIO_PORT=59000
MINIO_CONSOLE_PORT=59001
MINIO_USER=protostar
MINIO_PASSWORD=protostar-secret
# The token the local MinIO sends its bucket notifications with.
S3_EVENTS_TOKEN=dev-s3-events-token-not-for-production

# What `env` prints for our own instances.
LOCAL_DATABASE_URL="postgres://protostar:protostar@127.0.0.1:$PG_PORT/protostar?sslmode=disable"
LOCAL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
LOCAL_S3_ENDPOINT="127.0.0.1:$MINIO_PORT"

# Source-only entry for Debian trixie, used to fetch pgvector 0.8's source.
TRIXIE_SRC_LIST=/etc/apt/sources.list.d/protostar-trixie-src.sources

# How long `up` waits for a service to answer, in seconds.
START_TIMEOUT=60

# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------

log() { printf 'stack: %s\n' "$*" >&2; }

die() {
	log "error: $*"
	exit 1
}

# show_log_tail FILE: print the end of a log file to stderr, for failures.
show_log_tail() {
	local file=$1
	if [[ -s $file ]]; then
		log "last lines of $file:"
		tail -n 40 -- "$file" | sed 's/^/stack:   | /' >&2
	fi
}

# fail_with_log FILE MESSAGE...: report a failure with the log that explains it.
fail_with_log() {
	local file=$1
	shift
	log "error: $*"
	show_log_tail "$file"
	exit 1
}

# Report the line of any unexpected failure instead of exiting silently.
trap 'log "error: command failed (line $LINENO): $BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------

# Which engines we run ourselves. A variable that holds our own local value
# (as after `eval "$(scripts/stack.sh env)"`) does not make a service external.
need_pg() { [[ ${PROTOSTAR_DATABASE_URL:-$LOCAL_DATABASE_URL} == "$LOCAL_DATABASE_URL" ]]; }
need_redis() { [[ ${PROTOSTAR_REDIS_URL:-$LOCAL_REDIS_URL} == "$LOCAL_REDIS_URL" ]]; }
need_minio() { [[ ${PROTOSTAR_S3_ENDPOINT:-$LOCAL_S3_ENDPOINT} == "$LOCAL_S3_ENDPOINT" ]]; }

is_root() { [[ $EUID -eq 0 ]]; }

# as_root CMD...: run a command with root rights (sudo when not root).
as_root() {
	if is_root; then
		"$@"
	else
		command -v sudo >/dev/null || die "need root (or sudo) to run: $*"
		sudo "$@"
	fi
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_for SECONDS CMD...: poll CMD every half second until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

# pid_alive PID: the process exists and is not a zombie (our init reaps late).
pid_alive() {
	kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

# pid_from_file FILE: print the pid in FILE if that process is alive and its
# command line contains PATTERN ($2); a leftover pidfile of a dead or reused
# pid prints nothing.
pid_from_file() {
	local file=$1 pattern=$2 pid
	[[ -s $file ]] || return 1
	pid=$(tr -dc '0-9' <"$file")
	[[ -n $pid ]] && pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
	printf '%s\n' "$pid"
}

# stop_pid PID NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
	local pid=$1 name=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 60; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.5
	done
	log "$name (pid $pid) did not stop in 30 s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

# with_lock FD FILE CMD...: run CMD while holding an exclusive flock on FILE
# through file descriptor FD (8 or 9), so two `up`s (two terminals, two
# checkouts) don't install or build at once. Daemons must not inherit a lock
# fd (it would stay locked forever), so apt_get closes 8 and 9 for apt, whose
# postinst scripts may start Debian's postgres and redis services.
with_lock() {
	local fd=$1 file=$2
	shift 2
	mkdir -p -- "$(dirname -- "$file")"
	eval "exec $fd>\"\$file\""
	if ! flock -n "$fd"; then
		log "waiting for another stack.sh holding $file"
		flock -w 1800 "$fd" || die "timed out waiting for $file"
	fi
	"$@"
	eval "exec $fd>&-"
}

# shell_quote VALUE: VALUE in single quotes, safe for eval.
shell_quote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# ---------------------------------------------------------------------------
# Installation: apt packages, pgvector, MinIO
# ---------------------------------------------------------------------------

# apt_get ARGS...: apt-get, non-interactive, waiting for other apt/dpkg runs.
# DPkg::Lock::Timeout covers the dpkg lock, but `apt-get update` fails at once
# when /var/lib/apt/lists/lock is held, so lock errors are retried here too.
# Output goes to $APT_LOG; it is shown only on failure.
apt_get() {
	local deadline=$((SECONDS + 600))
	while :; do
		if as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=600 "$@" >>"$APT_LOG" 2>&1 8>&- 9>&-; then
			return 0
		fi
		if tail -n 5 -- "$APT_LOG" | grep -Eq 'Could not get lock|Unable to lock|Unable to acquire' &&
			((SECONDS < deadline)); then
			log "apt is busy (another apt/dpkg run); waiting"
			sleep 5
			continue
		fi
		fail_with_log "$APT_LOG" "apt-get $* failed"
	done
}

# ensure_packages: install the Debian packages that the engines we run need.
ensure_packages() {
	local -a want=(curl ca-certificates)
	if need_pg; then
		want+=(postgresql-15 postgresql-server-dev-15 build-essential dpkg-dev)
	fi
	if need_redis; then
		want+=(redis-server)
	fi
	install_missing "${want[@]}"
}

# install_missing PKG...: apt-get install those of the packages that are
# not installed yet, if any.
install_missing() {
	local -a missing=()
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
		[[ $status == installed ]] || missing+=("$pkg")
	done
	((${#missing[@]} > 0)) || return 0

	log "installing ${missing[*]} (log: $APT_LOG)"
	apt_get update
	apt_get install -y --no-install-recommends "${missing[@]}"
}

# pgvector_installed: the pgvector 0.8.x extension files are in place.
pgvector_installed() {
	[[ -f $PG_EXTENSION_DIR/vector.control && -f $PG_LIB_DIR/vector.so ]] &&
		grep -Eq "^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'0\.8\." \
			"$PG_EXTENSION_DIR/vector.control"
}

# ensure_pgvector: build pgvector 0.8 from Debian trixie's source package.
# Bookworm has no pgvector 0.8, and we must not mix trixie binaries into a
# bookworm system, so we add a deb-src (source only) entry and compile the
# upstream tarball against PostgreSQL 15.
ensure_pgvector() {
	pgvector_installed && return 0
	local log_file="$STACK_DIR/logs/pgvector-build.log" tmp src_entry
	: >"$log_file"

	src_entry=$(
		cat <<-'EOF'
			# Added by protostar scripts/stack.sh: Debian trixie SOURCE packages only,
			# used to build pgvector 0.8 for PostgreSQL 15. No binary trixie packages.
			Types: deb-src
			URIs: http://deb.debian.org/debian
			Suites: trixie
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	)
	if [[ ! -f $TRIXIE_SRC_LIST || $(<"$TRIXIE_SRC_LIST") != "$src_entry" ]]; then
		log "adding $TRIXIE_SRC_LIST (deb-src trixie)"
		printf '%s\n' "$src_entry" | as_root tee "$TRIXIE_SRC_LIST" >/dev/null
	fi
	# The new deb-src entry is invisible to apt until its index is fetched.
	if ! apt-cache showsrc pgvector 2>/dev/null | grep -Eq '^Version: 0\.8\.'; then
		log "apt-get update (for the trixie source index; log: $APT_LOG)"
		apt_get update
		if ! apt-cache showsrc pgvector 2>/dev/null | grep -Eq '^Version: 0\.8\.'; then
			{
				echo "--- apt-cache policy"
				apt-cache policy 2>&1
				echo "--- apt-cache showsrc pgvector"
				apt-cache showsrc pgvector 2>&1
			} >>"$APT_LOG"
			fail_with_log "$APT_LOG" "apt knows no pgvector 0.8 source package"
		fi
	fi

	log "building pgvector 0.8 from source (~1 min; log: $log_file)"
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $tmp now: it is local
	trap "rm -rf -- '$tmp'; trap - RETURN" RETURN
	# Chained with && because errexit is off inside a `|| ...` context.
	(
		cd -- "$tmp" &&
			apt-get source --download-only pgvector &&
			mkdir src &&
			tar -xf pgvector_*.orig.tar.* -C src --strip-components=1 &&
			cd src &&
			make -j"$(nproc)" PG_CONFIG="$PG_BIN/pg_config" &&
			as_root make install PG_CONFIG="$PG_BIN/pg_config"
	) >>"$log_file" 2>&1 8>&- 9>&- || fail_with_log "$log_file" "building pgvector failed"

	pgvector_installed ||
		fail_with_log "$log_file" "pgvector was built, but $PG_EXTENSION_DIR/vector.control is not version 0.8.x"
	log "pgvector installed: $(grep default_version "$PG_EXTENSION_DIR/vector.control")"
}

# minio_ok: the cached MinIO binary exists and runs.
minio_ok() {
	[[ -x $MINIO_BIN ]] && "$MINIO_BIN" --version >/dev/null 2>&1
}

# other_minio_build_running: a `go install` of our MinIO version runs elsewhere
# (for example started by hand in another terminal).
other_minio_build_running() {
	pgrep -f "go install .*$MINIO_MODULE@$MINIO_VERSION" >/dev/null 2>&1
}

# ensure_minio: make sure the cached MinIO binary exists, building it if not.
ensure_minio() {
	minio_ok && return 0
	mkdir -p -- "$MINIO_DIR"

	# A build started elsewhere installs straight into $MINIO_DIR; wait for it
	# to finish instead of building twice, and never use its half-copied binary.
	local waited=0
	while other_minio_build_running && ((waited < 1200)); do
		((waited % 30 == 0)) && log "a MinIO build is already running elsewhere; waiting for it (${waited}s)"
		sleep 5
		waited=$((waited + 5))
	done
	minio_ok && return 0

	with_lock 9 "$CACHE_DIR/minio-build.lock" build_minio
	minio_ok || die "MinIO binary $MINIO_BIN does not run"
}

# build_minio: go install into a temporary GOBIN next to the final place, then
# rename, so that $MINIO_BIN is either absent or complete.
build_minio() {
	minio_ok && return 0 # built by whoever held the lock before us
	local go_cmd log_file="$STACK_DIR/logs/minio-build.log" tmp
	go_cmd=$(command -v go || true)
	[[ -n $go_cmd ]] || go_cmd=/usr/local/go/bin/go
	[[ -x $go_cmd ]] || die "go is needed to build MinIO (not on PATH, not at /usr/local/go/bin/go)"
	tmp=$(mktemp -d "$MINIO_DIR/.build.XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now: it is local
	trap "rm -rf -- '$tmp'; trap - RETURN" RETURN

	log "building MinIO $MINIO_VERSION (~4 min, once per machine; log: $log_file)"
	(
		cd -- "$tmp" &&
			PATH="$(dirname -- "$go_cmd"):$PATH" GOBIN="$tmp" GOFLAGS=-buildvcs=false \
				"$go_cmd" install "$MINIO_MODULE@$MINIO_VERSION"
	) >"$log_file" 2>&1 8>&- 9>&- || fail_with_log "$log_file" "building MinIO failed"
	mv -f -- "$tmp/minio" "$MINIO_BIN"
	log "MinIO cached at $MINIO_BIN"
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# The cluster runs as the `postgres` OS user when we are root (postgres
# refuses to run as root), else as the current user.
if is_root; then PG_OS_USER=postgres; else PG_OS_USER=$(id -un); fi

# as_pg CMD...: run CMD as the cluster's OS user, from a directory it can read.
as_pg() {
	if is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# pg_reachable DIR: the cluster's OS user can traverse DIR.
pg_reachable() {
	as_pg test -x "$1" 2>/dev/null
}

# pg_root_ok DIR BASE: DIR can hold the cluster: BASE, the existing directory
# under which we create DIR (with mode 755), is reachable for the postgres
# user, and the socket path fits the 107-byte limit for Unix sockets.
pg_root_ok() {
	local sock="$1/run/.s.PGSQL.$PG_PORT"
	((${#sock} <= 100)) && pg_reachable "$2"
}

# resolve_pg_root: set PG_ROOT, PG_DATA, PG_RUN, PG_LOG_DIR. Normally
# .stack/pg; when the postgres user cannot reach the checkout (say it lives
# under /root, which is mode 700) or the path is too long for a Unix socket,
# use a directory under the cache, or under postgres's home as a last resort.
resolve_pg_root() {
	local hash pg_home
	PG_ROOT="$STACK_DIR/pg"
	if ! pg_root_ok "$PG_ROOT" "$REPO_ROOT"; then
		hash=$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)
		PG_ROOT="$CACHE_DIR/pgdata-$hash"
		if ! [[ -d $CACHE_DIR ]] || ! pg_root_ok "$PG_ROOT" "$CACHE_DIR"; then
			pg_home=$(getent passwd "$PG_OS_USER" | cut -d: -f6)
			PG_ROOT="$pg_home/protostar/pgdata-$hash"
		fi
	fi
	PG_DATA="$PG_ROOT/data"
	PG_RUN="$PG_ROOT/run"
	PG_LOG_DIR="$PG_ROOT/log"
	PG_LOG="$PG_LOG_DIR/postgresql.log"
}

pg_running() { as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# pg_psql ARGS...: psql as the cluster superuser over the private socket.
pg_psql() {
	as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" \
		-U "$PG_OS_USER" -d postgres "$@"
}

# write_pg_conf: our settings live in protostar.conf, included from
# postgresql.conf and rewritten on every `up` (paths follow the checkout).
write_pg_conf() {
	local include="include_if_exists = 'protostar.conf'"
	cat >"$PG_DATA/protostar.conf" <<-EOF
		# Written by scripts/stack.sh on every "up"; edits here are overwritten.
		port = $PG_PORT
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$PG_RUN'
		max_connections = 300
		shared_buffers = 512MB
	EOF
	if is_root; then chown "$PG_OS_USER": "$PG_DATA/protostar.conf"; fi
	grep -qxF "$include" "$PG_DATA/postgresql.conf" ||
		printf '\n# protostar local stack (scripts/stack.sh)\n%s\n' "$include" >>"$PG_DATA/postgresql.conf"
}

start_postgres() {
	resolve_pg_root
	if [[ $PG_ROOT == "$STACK_DIR"/* ]]; then
		chmod 755 "$STACK_DIR" # the postgres user must traverse it
	else
		log "postgres user cannot use $STACK_DIR/pg; cluster lives in $PG_ROOT"
	fi
	# umask 022: every directory on the way must be traversable by postgres.
	(umask 022 && mkdir -p -- "$PG_DATA" "$PG_RUN" "$PG_LOG_DIR")
	if is_root; then
		# Not -R over the data directory: it can be large, and initdb sets it up.
		chown "$PG_OS_USER": "$PG_ROOT" "$PG_DATA" "$PG_RUN" "$PG_LOG_DIR"
		[[ -f $PG_LOG ]] && chown "$PG_OS_USER": "$PG_LOG"
	fi
	chmod 700 "$PG_DATA"

	if [[ ! -s $PG_DATA/PG_VERSION ]]; then
		log "postgres: initdb in $PG_DATA"
		as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_OS_USER" --encoding=UTF8 \
			--locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
			>"$PG_LOG_DIR/initdb.log" 2>&1 ||
			fail_with_log "$PG_LOG_DIR/initdb.log" "initdb failed (a non-empty $PG_DATA without PG_VERSION must be removed by hand)"
	fi
	write_pg_conf

	if pg_running; then
		if ! wait_for "$START_TIMEOUT" pg_ready; then
			fail_with_log "$PG_LOG" "postgres in $PG_DATA runs but does not answer on 127.0.0.1:$PG_PORT"
		fi
		log "postgres: already running on 127.0.0.1:$PG_PORT"
	else
		port_open "$PG_PORT" &&
			die "port $PG_PORT is taken by another process (another checkout's stack?); run its 'down' first"
		log "postgres: starting on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
		# pg_ctl itself removes a stale postmaster.pid left by a crash.
		as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" >/dev/null 2>&1 ||
			fail_with_log "$PG_LOG" "postgres did not start"
		wait_for "$START_TIMEOUT" pg_ready || fail_with_log "$PG_LOG" "postgres does not answer on 127.0.0.1:$PG_PORT"
	fi

	# Role and database. SUPERUSER: the app runs CREATE EXTENSION, and tests
	# create a database per test.
	pg_psql -f - <<-'EOF' || fail_with_log "$PG_LOG" "creating role/database protostar failed"
		SELECT format('CREATE ROLE protostar')
		WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'protostar') \gexec
		ALTER ROLE protostar WITH LOGIN SUPERUSER PASSWORD 'protostar';
		SELECT format('CREATE DATABASE protostar OWNER protostar')
		WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'protostar') \gexec
	EOF
}

stop_postgres() {
	resolve_pg_root
	if [[ -s $PG_DATA/PG_VERSION ]] && pg_running; then
		log "postgres: stopping"
		as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null 2>&1 ||
			fail_with_log "$PG_LOG" "pg_ctl stop failed"
	else
		log "postgres: not running"
	fi
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

REDIS_DIR="$STACK_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

redis_pid() { pid_from_file "$REDIS_PIDFILE" redis-server; }
redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

start_redis() {
	mkdir -p -- "$REDIS_DIR"
	if redis_pid >/dev/null; then
		wait_for "$START_TIMEOUT" redis_ready ||
			fail_with_log "$REDIS_LOG" "redis (pid $(redis_pid)) runs but does not answer PING"
		log "redis: already running on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	rm -f -- "$REDIS_PIDFILE" # stale: its process is gone
	port_open "$REDIS_PORT" &&
		die "port $REDIS_PORT is taken by another process (another checkout's stack?); run its 'down' first"

	log "redis: starting on 127.0.0.1:$REDIS_PORT (log: $REDIS_LOG)"
	# No config file: every setting is on the command line. AOF with fsync
	# every second and no RDB snapshots; noeviction, because asynq must never
	# lose queued jobs to eviction.
	redis-server \
		--bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
		--dir "$REDIS_DIR" \
		--appendonly yes --appendfsync everysec \
		--maxmemory-policy noeviction \
		--save "" \
		--daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
		>"$REDIS_DIR/redis-start.log" 2>&1 ||
		fail_with_log "$REDIS_DIR/redis-start.log" "redis-server did not start"
	if ! wait_for "$START_TIMEOUT" redis_ready; then
		show_log_tail "$REDIS_DIR/redis-start.log"
		fail_with_log "$REDIS_LOG" "redis does not answer PING on 127.0.0.1:$REDIS_PORT"
	fi
}

stop_redis() {
	local pid
	if ! pid=$(redis_pid); then
		log "redis: not running"
		rm -f -- "$REDIS_PIDFILE"
		return 0
	fi
	log "redis: stopping"
	# Plain SHUTDOWN: with no save points it writes no RDB, and the AOF stays.
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
	wait_for 30 eval "! pid_alive $pid" || stop_pid "$pid" redis
}

# ---------------------------------------------------------------------------
# MinIO
# ---------------------------------------------------------------------------

MINIO_STATE_DIR="$STACK_DIR/minio"
MINIO_PIDFILE="$MINIO_STATE_DIR/minio.pid"
MINIO_LOG="$MINIO_STATE_DIR/minio.log"

minio_pid() { pid_from_file "$MINIO_PIDFILE" "minio server"; }
minio_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$MINIO_PORT/minio/health/live" 2>/dev/null; }

start_minio() {
	local pid
	mkdir -p -- "$MINIO_STATE_DIR/data"
	if pid=$(minio_pid); then
		wait_for "$START_TIMEOUT" minio_ready ||
			fail_with_log "$MINIO_LOG" "minio (pid $pid) runs but is not live"
		log "minio: already running on 127.0.0.1:$MINIO_PORT"
		return 0
	fi
	rm -f -- "$MINIO_PIDFILE"
	port_open "$MINIO_PORT" &&
		die "port $MINIO_PORT is taken by another process (another checkout's stack?); run its 'down' first"

	log "minio: starting on 127.0.0.1:$MINIO_PORT, console 127.0.0.1:$MINIO_CONSOLE_PORT (log: $MINIO_LOG)"
	printf '\n=== %s: started by scripts/stack.sh\n' "$(date -Is)" >>"$MINIO_LOG"
	# setsid + nohup: the server outlives this script and its terminal. Both
	# exec, so $! is MinIO's own pid.
	# Bucket notifications go to protostar's intake (PROTOSTAR_S3_WATCH
	# makes protostar subscribe its bucket to this target); the queue
	# directory keeps them while protostar is down.
	mkdir -p -- "$MINIO_STATE_DIR/events"
	MINIO_ROOT_USER=$MINIO_USER MINIO_ROOT_PASSWORD=$MINIO_PASSWORD \
		MINIO_NOTIFY_WEBHOOK_ENABLE_PROTOSTAR=on \
		MINIO_NOTIFY_WEBHOOK_ENDPOINT_PROTOSTAR="http://${PROTOSTAR_HTTP_ADDR:-127.0.0.1:8080}/v1/s3-events" \
		MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PROTOSTAR="${PROTOSTAR_S3_EVENTS_TOKEN:-$S3_EVENTS_TOKEN}" \
		MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_PROTOSTAR="$MINIO_STATE_DIR/events" \
		setsid nohup "$MINIO_BIN" server "$MINIO_STATE_DIR/data" \
		--address "127.0.0.1:$MINIO_PORT" \
		--console-address "127.0.0.1:$MINIO_CONSOLE_PORT" \
		</dev/null >>"$MINIO_LOG" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$MINIO_PIDFILE"

	local deadline=$((SECONDS + START_TIMEOUT))
	until minio_ready; do
		pid_alive "$pid" || fail_with_log "$MINIO_LOG" "minio exited during start"
		((SECONDS < deadline)) || fail_with_log "$MINIO_LOG" "minio not live after ${START_TIMEOUT}s"
		sleep 0.5
	done
}

stop_minio() {
	local pid
	if pid=$(minio_pid); then
		log "minio: stopping"
		stop_pid "$pid" minio
	else
		log "minio: not running"
	fi
	rm -f -- "$MINIO_PIDFILE"
}

# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------

cmd_up() {
	local start=$SECONDS
	mkdir -p -- "$STACK_DIR/logs"
	APT_LOG="$STACK_DIR/logs/apt.log"

	# Installation touches the whole machine: one `up` at a time per user.
	with_lock 8 "$CACHE_DIR/install.lock" install_all
	if need_pg; then start_postgres; fi
	if need_redis; then start_redis; fi
	if need_minio; then start_minio; fi

	log "up in $((SECONDS - start))s; use it with: eval \"\$(scripts/stack.sh env)\""
}

# cmd_browser: install Debian's chromium (and CJK fonts, so Korean pages
# render in screenshots) for the console's browser tests; `make test` runs
# it. Playwright's browser downloads are not needed.
cmd_browser() {
	mkdir -p -- "$STACK_DIR/logs"
	APT_LOG="$STACK_DIR/logs/apt.log"
	with_lock 8 "$CACHE_DIR/install.lock" ensure_browser
	log "browser: $(command -v chromium) ($(chromium --version 2>/dev/null | head -n 1))"
}

ensure_browser() { install_missing chromium fonts-noto-cjk; }

install_all() {
	ensure_packages
	if need_pg; then ensure_pgvector; fi
	if need_minio; then ensure_minio; fi
}

cmd_down() {
	# Our processes are stopped even if the environment now points elsewhere.
	stop_minio
	stop_redis
	if [[ -x $PG_BIN/pg_ctl ]]; then stop_postgres; fi
}

cmd_status() {
	local ok=0 pid
	if ! need_pg; then
		echo "postgres: external (PROTOSTAR_DATABASE_URL is set)"
	elif [[ ! -x $PG_BIN/pg_ctl ]]; then
		echo "postgres: not installed"
		ok=1
	else
		resolve_pg_root
		if [[ -s $PG_DATA/PG_VERSION ]] && pg_running && pg_ready; then
			pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')
			echo "postgres: running (pid $pid) on 127.0.0.1:$PG_PORT, data $PG_DATA"
		else
			echo "postgres: stopped (data $PG_DATA)"
			ok=1
		fi
	fi

	if ! need_redis; then
		echo "redis: external (PROTOSTAR_REDIS_URL is set)"
	elif pid=$(redis_pid) && redis_ready; then
		echo "redis: running (pid $pid) on 127.0.0.1:$REDIS_PORT, data $REDIS_DIR"
	else
		echo "redis: stopped"
		ok=1
	fi

	if ! need_minio; then
		echo "minio: external (PROTOSTAR_S3_ENDPOINT is set)"
	elif pid=$(minio_pid) && minio_ready; then
		echo "minio: running (pid $pid) on 127.0.0.1:$MINIO_PORT, data $MINIO_STATE_DIR/data"
	else
		echo "minio: stopped"
		ok=1
	fi
	# exit, not return: a failing function call would also fire the ERR trap.
	exit "$ok"
}

# cmd_env: print export lines; values already in the environment win. Must not
# install or start anything, and prints nothing else on stdout.
cmd_env() {
	local redis_bin name value
	redis_bin=$(command -v redis-server || echo /usr/bin/redis-server)
	local -a pairs=(
		PROTOSTAR_DATABASE_URL "$LOCAL_DATABASE_URL"
		PROTOSTAR_REDIS_URL "$LOCAL_REDIS_URL"
		PROTOSTAR_S3_ENDPOINT "$LOCAL_S3_ENDPOINT"
		PROTOSTAR_S3_ACCESS_KEY "$MINIO_USER"
		PROTOSTAR_S3_SECRET_KEY "$MINIO_PASSWORD"
		PROTOSTAR_S3_BUCKET protostar
		PROTOSTAR_S3_USE_TLS false
		PROTOSTAR_S3_CREATE_BUCKET true
		PROTOSTAR_S3_EVENTS_TOKEN "$S3_EVENTS_TOKEN"
		# For tests that start private instances of the engines.
		PROTOSTAR_STACK_PG_BIN "$PG_BIN"
		PROTOSTAR_STACK_MINIO_BIN "$MINIO_BIN"
		PROTOSTAR_STACK_REDIS_BIN "$redis_bin"
	)
	set -- "${pairs[@]}"
	while (($# >= 2)); do
		name=$1 value=${!1:-$2}
		shift 2
		printf 'export %s=%s\n' "$name" "$(shell_quote "$value")"
	done
}

usage() {
	cat >&2 <<-'EOF'
		usage: scripts/stack.sh up|down|status|env|browser

		  up      install what is missing (apt packages, pgvector 0.8, MinIO) and
		          start PostgreSQL :55432, Redis :56379, MinIO :59000 on 127.0.0.1
		  down    stop them; data in .stack/ is kept
		  status  one line per service (exit 1 if one of ours is not running)
		  env     print export lines: eval "$(scripts/stack.sh env)"
		  browser install Debian's chromium for the console's browser tests

		Set PROTOSTAR_DATABASE_URL, PROTOSTAR_REDIS_URL or PROTOSTAR_S3_ENDPOINT to
		use an external service instead; PROTOSTAR_CACHE_DIR moves the binary cache
		(default ~/.cache/protostar).
	EOF
}

main() {
	case ${1:-} in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	browser) cmd_browser ;;
	-h | --help | help) usage ;;
	*)
		usage
		exit 2
		;;
	esac
}

main "$@"
