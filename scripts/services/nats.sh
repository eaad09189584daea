# shellcheck shell=bash
# '$JS.API.INFO' is a NATS subject, not a shell variable.
# shellcheck disable=SC2016
# NATS with JetStream. Sourced by up.sh / down.sh (needs lib.sh).
#
# Reuse first: a NATS already listening on $NATS_PORT (a machine or CI service) is used as it
# is, after checking that it has JetStream. Otherwise Debian's nats-server (2.9.x) is installed
# if missing and started by us, with its store under .services/nats.
#
# How JetStream is verified (works with or without a monitor port, so also on a reused server
# started without -m): speak the NATS text protocol over bash's /dev/tcp:
#   1. the server's INFO line must say "jetstream":true;
#   2. a request to $JS.API.INFO must come back as an io.nats.jetstream.api.v1.account_info_response
#      (proves JetStream is enabled for the default account, not just compiled in).
# When we start the server ourselves we also enable the monitor port and wait for /healthz.

NATS_LOG="$SERVICES_LOGS/nats.log"

nats_jetstream_ok() {
  local info reply line
  exec 7<>"/dev/tcp/$SERVICES_HOST/$NATS_PORT" || return 1
  if ! IFS= read -r -t 5 info <&7 || [[ "$info" != *'"jetstream":true'* ]]; then
    exec 7>&-
    return 1
  fi
  # no_responders: without JetStream the request gets an immediate 503 status instead of
  # silence, so a negative answer is quick. The PING makes the server flush.
  printf 'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1,"name":"herald-services-up"}\r\nSUB _INBOX.herald.services.up 1\r\nPUB $JS.API.INFO _INBOX.herald.services.up 0\r\n\r\nPING\r\n' >&7
  reply=1
  for _ in $(seq 1 10); do
    IFS= read -r -t 5 line <&7 || break
    if [[ "$line" == *account_info_response* ]]; then
      reply=0
      break
    fi
  done
  exec 7>&-
  return "$reply"
}

nats_healthz() {
  port_open "$SERVICES_HOST" "$NATS_PORT" &&
    curl -fsS -m 3 "http://$SERVICES_HOST:$NATS_MONITOR_PORT/healthz" >/dev/null 2>&1
}

nats_up() {
  local pid
  if pid="$(our_pid nats nats-server)"; then
    log "nats: already running (started by up.sh, pid $pid) on $SERVICES_HOST:$NATS_PORT"
  elif port_open "$SERVICES_HOST" "$NATS_PORT"; then
    log "nats: reusing the server already listening on $SERVICES_HOST:$NATS_PORT"
  else
    command -v nats-server >/dev/null || apt_install nats-server
    # Installing the package may start Debian's own service on 4222: reuse it if so.
    if port_open "$SERVICES_HOST" "$NATS_PORT"; then
      log "nats: reusing the server the package started on $SERVICES_HOST:$NATS_PORT"
    else
      mkdir -p "$SERVICES_DIR/nats"
      rotate_log "$NATS_LOG"
      log "nats: starting nats-server -js on $SERVICES_HOST:$NATS_PORT (monitor $NATS_MONITOR_PORT)"
      # -a: bind loopback only; -js: JetStream; -sd: JetStream store inside .services;
      # -m: HTTP monitor (/healthz, /jsz) for readiness and debugging.
      spawn nats "$NATS_LOG" nats-server -a "$SERVICES_HOST" -p "$NATS_PORT" -js \
        -sd "$SERVICES_DIR/nats" -m "$NATS_MONITOR_PORT" -n herald-services
      wait_ready nats "$NATS_LOG" nats nats-server nats_healthz || return 1
    fi
  fi
  if ! nats_jetstream_ok; then
    log "ERROR: nats: the server on $SERVICES_HOST:$NATS_PORT does not have JetStream enabled (needs -js)"
    [[ -f "$NATS_LOG" ]] && fail_with_log nats "$NATS_LOG" "no JetStream"
    return 1
  fi
  log "nats: JetStream OK on $SERVICES_HOST:$NATS_PORT"
}

nats_down() {
  stop_pid nats nats-server 15
}
