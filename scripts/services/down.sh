#!/usr/bin/env bash
# Stop the servers that scripts/services/up.sh started (found through .services/run/*.pid).
# Never touches a server up.sh reused (a machine's NATS or Redis): those have no pid file.
#
#   bash scripts/services/down.sh            # stop; keep data and cached jars
#   bash scripts/services/down.sh --purge    # stop, then delete the data (jars stay cached)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
. "$here/nats.sh"
. "$here/redis.sh"
. "$here/cassandra.sh"
. "$here/elasticsearch.sh"

purge=0
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    *) echo "usage: down.sh [--purge]" >&2; exit 2 ;;
  esac
done

[[ -d "$SERVICES_DIR" ]] || { log "nothing to stop (no ${SERVICES_DIR#"$HERALD_ROOT"/})"; exit 0; }
services_lock

# The two JVMs first, in parallel (each may take several seconds to close cleanly).
cassandra_down &
c=$!
elasticsearch_down &
e=$!
wait "$c" || true
wait "$e" || true
redis_down
nats_down

if [[ $purge -eq 1 ]]; then
  log "deleting data: cassandra/data, elasticsearch/home, nats, redis"
  rm -rf "$SERVICES_DIR/cassandra/data" "$SERVICES_DIR/elasticsearch/home" \
    "$SERVICES_DIR/nats" "$SERVICES_DIR/redis"
fi
rm -f "$SERVICES_DIR/env"
log "down"
