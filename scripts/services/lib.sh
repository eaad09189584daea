# shellcheck shell=bash
# Variables defined here are used by the files that source this one (SC2034 can't see that);
# single-quoted $ in bash -c / protocol strings is meant literally (SC2016).
# shellcheck disable=SC2034,SC2016
# Shared helpers for scripts/services/*.sh. Sourced, never run on its own.
#
# Everything the services write (jars, config, data, logs, pid files) lives under ONE folder,
# $SERVICES_DIR (default: .services/ at the repo root, which is gitignored):
#   lib-cassandra/, lib-elasticsearch/   jars copied from Maven (cached: a `.complete` marker
#                                         says the copy finished; ~/.m2 caches the download too)
#   build/<service>/pom.xml              the throw-away poms used to fetch those jars
#   cassandra/{conf,data,tmp}            Cassandra's yaml, logback.xml, storage dir, tmp dir
#   elasticsearch/{classes,home,tmp}     the compiled launcher, ES home (config/data/logs/...)
#   nats/                                JetStream store dir (only when we start NATS ourselves)
#   redis/                               Redis working dir (only when we start Redis ourselves)
#   logs/<service>.log                   each server's stdout+stderr (previous run: .log.1)
#   run/<service>.pid                    pid of each server that up.sh started (down.sh reads these)
#   env                                  the HERALD_* variables printed at the end of up.sh

HERALD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES_SCRIPTS="$HERALD_ROOT/scripts/services"
SERVICES_DIR="${HERALD_SERVICES_DIR:-$HERALD_ROOT/.services}"
# Every server binds to loopback only: the test machines reach nothing but the registries,
# and a test server must never be reachable from outside.
SERVICES_HOST=127.0.0.1

NATS_PORT="${HERALD_SERVICES_NATS_PORT:-4222}"
NATS_MONITOR_PORT="${HERALD_SERVICES_NATS_MONITOR_PORT:-8222}"
REDIS_PORT="${HERALD_SERVICES_REDIS_PORT:-6379}"
CASSANDRA_PORT="${HERALD_SERVICES_CASSANDRA_PORT:-9042}"
CASSANDRA_STORAGE_PORT="${HERALD_SERVICES_CASSANDRA_STORAGE_PORT:-7000}"
ELASTICSEARCH_PORT="${HERALD_SERVICES_ELASTICSEARCH_PORT:-9200}"
ELASTICSEARCH_TRANSPORT_PORT="${HERALD_SERVICES_ELASTICSEARCH_TRANSPORT_PORT:-9300}"
# Cassandra and Elasticsearch each need ~120 s on 2 shared cores; leave head-room.
SERVICES_TIMEOUT="${HERALD_SERVICES_TIMEOUT:-300}"

SERVICES_LOGS="$SERVICES_DIR/logs"
SERVICES_RUN="$SERVICES_DIR/run"

log() { printf '[services %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Print the last 40 lines of a service's log and return non-zero: a service that cannot
# start must fail loudly, never be skipped silently.
fail_with_log() {
  local name="$1" logfile="$2" why="$3"
  log "ERROR: $name: $why"
  if [[ -f "$logfile" ]]; then
    # The cause is often above the last 40 lines (shutdown hooks log after it): show the
    # first error line too.
    local first
    first="$(grep -m1 -E 'ERROR|FATAL|Exception|Fatal' "$logfile" 2>/dev/null | cut -c1-400 || true)"
    [[ -n "$first" ]] && log "$name: first error in log: $first"
    printf '%s\n' "----- last 40 lines of $logfile -----" >&2
    tail -n 40 "$logfile" >&2 || true
    printf '%s\n' "----- end of $logfile -----" >&2
  else
    log "(no log file at $logfile)"
  fi
  return 1
}

# True when something accepts TCP connections on host:port. bash's /dev/tcp needs no nc.
port_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# apt-get update at most once per up.sh run (Debian's lists may be empty or stale before it).
_APT_UPDATED=0
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    log "ERROR: need to install $* but not root; install them and re-run"
    return 1
  fi
  if [[ $_APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    _APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# --- pid files ------------------------------------------------------------------------------
# A pid file holds the pid of a server that up.sh started. It only counts while that pid is
# alive AND runs the expected program (/proc/PID/comm), so a recycled pid is never mistaken for
# our server, and down.sh never signals a process it did not start.

# Take run/lock on fd 9: one up.sh/down.sh at a time per .services (a shared work tree).
services_lock() {
  mkdir -p "$SERVICES_RUN"
  exec 9>"$SERVICES_RUN/lock"
  if ! flock -n 9; then
    log "another up.sh/down.sh is using ${SERVICES_DIR#"$HERALD_ROOT"/}; waiting for it (at most 15 min)"
    flock -w 900 9 || { log "ERROR: still locked by another up.sh/down.sh after 15 min"; return 1; }
  fi
}

pidfile() { printf '%s/%s.pid' "$SERVICES_RUN" "$1"; }

# our_pid NAME COMM -> prints the pid and succeeds if our NAME server is running.
our_pid() {
  local name="$1" comm="$2" file pid
  file="$(pidfile "$name")"
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
  printf '%s' "$pid"
}

# Keep the previous run's log as .log.1 so the readiness checks only see this run's lines.
rotate_log() {
  local logfile="$1"
  mkdir -p "$(dirname "$logfile")"
  if [[ -s "$logfile" ]]; then mv -f "$logfile" "$logfile.1"; fi
  : >"$logfile"
}

# spawn NAME LOGFILE CMD... : start CMD detached and record its pid in run/NAME.pid.
# - setsid + nohup: the server outlives up.sh and is not hit by a Ctrl-C / process-group kill
#   aimed at the script (CI or a tool killing up.sh's group must not take the servers down).
# - the inner bash writes its own pid ($$) and then execs the server, so the pid file holds
#   the server's real pid (not a wrapper's), whatever setsid decides about forking.
# - 9>&-: fd 9 holds up.sh's lock (run/lock); a server that inherited it would hold the lock
#   for its whole life and every later up.sh/down.sh would wait forever.
spawn() {
  local name="$1" logfile="$2"
  shift 2
  local file
  file="$(pidfile "$name")"
  mkdir -p "$SERVICES_RUN"
  rm -f "$file"
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$file" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  # Wait (briefly) for the pid file so callers can rely on it.
  local i
  for i in $(seq 1 50); do
    [[ -s "$file" ]] && return 0
    sleep 0.1
  done
  log "ERROR: $name: no pid file after spawning"
  return 1
}

# stop_pid NAME COMM GRACE_SECONDS: SIGTERM our server, wait, then SIGKILL. Only ever acts on
# a pid from our pid file that still runs COMM.
stop_pid() {
  local name="$1" comm="$2" grace="$3" pid i
  if ! pid="$(our_pid "$name" "$comm")"; then
    rm -f "$(pidfile "$name")"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 2; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still running after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$(pidfile "$name")"
  log "$name: stopped"
}

# --- toolchain ------------------------------------------------------------------------------

# Cassandra 5.0 and Elasticsearch 7.17 both run on JDK 17 (Cassandra 5.0 supports 11 and 17;
# ES 7.17 embedded runs fine on 17). Sets JAVA and JAVAC.
ensure_java17() {
  local home=""
  if [[ -n "${HERALD_SERVICES_JAVA_HOME:-}" ]]; then
    home="$HERALD_SERVICES_JAVA_HOME"
  elif command -v javac >/dev/null && javac -version 2>&1 | grep -q '^javac 17\.'; then
    home="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
  else
    local d
    for d in /usr/lib/jvm/java-17-openjdk-*; do
      if [[ -x "$d/bin/javac" ]]; then home="$d" && break; fi
    done
    if [[ -z "$home" ]]; then
      apt_install openjdk-17-jdk-headless
      for d in /usr/lib/jvm/java-17-openjdk-*; do
        if [[ -x "$d/bin/javac" ]]; then home="$d" && break; fi
      done
    fi
  fi
  JAVA="$home/bin/java"
  JAVAC="$home/bin/javac"
  if ! "$JAVA" -version 2>&1 | grep -q 'version "17\.'; then
    log "ERROR: $JAVA is not JDK 17"
    return 1
  fi
}

ensure_maven() {
  command -v mvn >/dev/null || apt_install maven
}

# maven_copy NAME POM_BODY_DEPENDENCIES LIBDIR : fetch jars once into LIBDIR.
# The copy goes to a temp dir first and is renamed, with a `.complete` marker naming what was
# fetched, so an interrupted download is never taken for a good cache, and a later run with the
# same dependency list downloads nothing.
maven_copy() {
  local name="$1" deps="$2" libdir="$3"
  local stamp
  stamp="$(printf '%s' "$deps" | sha256sum | cut -c1-16)"
  if [[ -f "$libdir/.complete" && "$(cat "$libdir/.complete")" == "$stamp" ]]; then
    log "$name: jars cached in ${libdir#"$HERALD_ROOT"/}"
    return 0
  fi
  ensure_maven
  local build="$SERVICES_DIR/build/$name"
  mkdir -p "$build"
  cat >"$build/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/services/lib.sh: a throw-away pom used only to fetch jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>herald.services</groupId>
  <artifactId>$name-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
</project>
EOF
  local tmp="$libdir.tmp"
  rm -rf "$tmp"
  log "$name: fetching jars from Maven Central (first time ~1 min; cached afterwards)"
  # -B: no colour/progress codes in logs. A warning about \${jmc5.path} from a transitive
  # Cassandra POM is harmless.
  if ! (cd "$build" && mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$tmp") >"$build/mvn.log" 2>&1; then
    fail_with_log "$name" "$build/mvn.log" "Maven could not fetch the jars"
    return 1
  fi
  printf '%s' "$stamp" >"$tmp/.complete"
  rm -rf "$libdir"
  mv "$tmp" "$libdir"
  log "$name: $(find "$libdir" -name '*.jar' | wc -l) jars in ${libdir#"$HERALD_ROOT"/}"
}

# wait_ready NAME LOGFILE PIDNAME COMM CHECK_FN : poll CHECK_FN every 2 s until it succeeds,
# the server dies, or SERVICES_TIMEOUT passes. On failure: last 40 log lines, non-zero.
wait_ready() {
  local name="$1" logfile="$2" pidname="$3" comm="$4" check="$5"
  local start=$SECONDS
  while true; do
    if "$check"; then
      log "$name: ready after $((SECONDS - start))s"
      return 0
    fi
    if ! our_pid "$pidname" "$comm" >/dev/null; then
      fail_with_log "$name" "$logfile" "the server exited before it was ready"
      return 1
    fi
    if ((SECONDS - start >= SERVICES_TIMEOUT)); then
      fail_with_log "$name" "$logfile" "not ready after ${SERVICES_TIMEOUT}s (HERALD_SERVICES_TIMEOUT); stopping it" || true
      stop_pid "$pidname" "$comm" 30
      return 1
    fi
    sleep 2
  done
}
