# shellcheck shell=bash
# Redis (for BullMQ). Sourced by up.sh / down.sh (needs lib.sh).
#
# Reuse first: if `redis-cli ping` answers on $REDIS_PORT, that server is used as it is.
# Otherwise Debian's redis-server (7.0.x) is installed if missing and started by us.

REDIS_LOG="$SERVICES_LOGS/redis.log"

redis_ping() {
  [[ "$(timeout 5 redis-cli -h "$SERVICES_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

redis_up() {
  local pid
  command -v redis-cli >/dev/null || apt_install redis-server redis-tools
  if pid="$(our_pid redis redis-server)"; then
    log "redis: already running (started by up.sh, pid $pid) on $SERVICES_HOST:$REDIS_PORT"
  elif redis_ping; then
    log "redis: reusing the server already answering on $SERVICES_HOST:$REDIS_PORT"
  else
    command -v redis-server >/dev/null || apt_install redis-server
    # Installing the package may start Debian's own service on 6379: reuse it if so.
    if redis_ping; then
      log "redis: reusing the server the package started on $SERVICES_HOST:$REDIS_PORT"
    else
      if port_open "$SERVICES_HOST" "$REDIS_PORT"; then
        log "ERROR: redis: port $REDIS_PORT is taken by something that is not Redis (set HERALD_SERVICES_REDIS_PORT)"
        return 1
      fi
      mkdir -p "$SERVICES_DIR/redis"
      rotate_log "$REDIS_LOG"
      log "redis: starting redis-server on $SERVICES_HOST:$REDIS_PORT"
      # --save "" / --appendonly no: a test server keeps nothing on disk (faster, no stale state).
      # --daemonize no: spawn() detaches it and records the pid itself (uniform with the other
      #   servers; with --daemonize yes the pid would be a grandchild's). Logs go to stdout.
      # --dir: any file Redis might still write stays inside .services.
      spawn redis "$REDIS_LOG" redis-server --port "$REDIS_PORT" --bind "$SERVICES_HOST" \
        --save "" --appendonly no --daemonize no --dir "$SERVICES_DIR/redis"
      wait_ready redis "$REDIS_LOG" redis redis-server redis_ping || return 1
    fi
  fi
  log "redis: PONG on $SERVICES_HOST:$REDIS_PORT"
}

redis_down() {
  stop_pid redis redis-server 15
}
