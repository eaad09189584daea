#!/usr/bin/env bash
# Start the real servers Herald's distributed adapters are tested against, on 127.0.0.1, and
# wait until each is ready:  NATS+JetStream :4222, Redis :6379, Cassandra 5.0.8 :9042,
# Elasticsearch 7.17.29 :9200. No Docker: Debian packages and Maven Central jars only.
#
#   bash scripts/services/up.sh                      # all four
#   bash scripts/services/up.sh cassandra redis      # only some
#
# Idempotent: servers already running (ours from a previous run, or a machine's NATS/Redis)
# are reused; jars are fetched once into .services/lib-*. On success prints the HERALD_*
# variables (stdout; also written to .services/env), e.g.  set -a; . .services/env; set +a
# Any server that cannot start -> its last 40 log lines and a non-zero exit.
# Ports: HERALD_SERVICES_{NATS,NATS_MONITOR,REDIS,CASSANDRA,CASSANDRA_STORAGE,ELASTICSEARCH,
# ELASTICSEARCH_TRANSPORT}_PORT; HERALD_SERVICES_TIMEOUT (s, default 300) per JVM server.
# Stop with scripts/services/down.sh (stops only what this script started).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
. "$here/nats.sh"
. "$here/redis.sh"
. "$here/cassandra.sh"
. "$here/elasticsearch.sh"

all=(nats redis cassandra elasticsearch)
wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=("${all[@]}")
for w in "${wanted[@]}"; do
  [[ " ${all[*]} " == *" $w "* ]] || { echo "unknown service '$w' (one of: ${all[*]})" >&2; exit 2; }
done
want() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

mkdir -p "$SERVICES_DIR" "$SERVICES_LOGS" "$SERVICES_RUN"
services_lock

started=$SECONDS
failed=()

# NATS and Redis start in a second or two: one after the other.
if want nats; then nats_up || failed+=(nats); fi
if want redis; then redis_up || failed+=(redis); fi

# Cassandra and Elasticsearch take ~2 min each on 2 cores: prepare them one after the other
# (Maven downloads must not run concurrently on the same ~/.m2), start both, then wait for
# both, so their start-ups overlap.
jvm_services=()
want cassandra && jvm_services+=(cassandra)
want elasticsearch && jvm_services+=(elasticsearch)
if [[ ${#jvm_services[@]} -gt 0 ]]; then
  ensure_java17 || { failed+=("${jvm_services[@]}"); jvm_services=(); }
fi
to_wait=()
for s in "${jvm_services[@]}"; do
  if "${s}_prepare" && "${s}_start"; then to_wait+=("$s"); else failed+=("$s"); fi
done
for s in "${to_wait[@]}"; do
  "${s}_wait" || failed+=("$s")
done

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED: ${failed[*]} (after $((SECONDS - started))s). Servers that did start keep running: scripts/services/down.sh stops them."
  exit 1
fi

env_lines=()
want nats && env_lines+=("HERALD_NATS_URL=nats://$SERVICES_HOST:$NATS_PORT")
want redis && env_lines+=("HERALD_REDIS_URL=redis://$SERVICES_HOST:$REDIS_PORT")
want cassandra && env_lines+=("HERALD_CASSANDRA_CONTACT_POINTS=$SERVICES_HOST:$CASSANDRA_PORT")
want elasticsearch && env_lines+=("HERALD_ELASTICSEARCH_URL=http://$SERVICES_HOST:$ELASTICSEARCH_PORT")
printf '%s\n' "${env_lines[@]}" >"$SERVICES_DIR/env"
log "all ready (${wanted[*]}) in $((SECONDS - started))s; variables also in ${SERVICES_DIR#"$HERALD_ROOT"/}/env"
printf '%s\n' "${env_lines[@]}"
