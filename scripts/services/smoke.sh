#!/usr/bin/env bash
# Smoke-check the servers up.sh made ready: each one does real work, with curl, redis-cli,
# bash's /dev/tcp and node only (no cqlsh, no client libraries).
#   bash scripts/services/smoke.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
. "$here/nats.sh"
. "$here/redis.sh"
. "$here/cassandra.sh"
. "$here/elasticsearch.sh"

ok() { log "smoke OK: $*"; }
die() { log "smoke FAILED: $*"; exit 1; }

# --- NATS: JetStream answers $JS.API.INFO ---------------------------------------------------
nats_jetstream_ok || die "nats: no JetStream account info on $SERVICES_HOST:$NATS_PORT"
ok "nats: JetStream account info on $SERVICES_HOST:$NATS_PORT"

# --- Redis: write, read, delete -------------------------------------------------------------
key="herald:smoke:$$"
rc() { redis-cli -h "$SERVICES_HOST" -p "$REDIS_PORT" "$@"; }
[[ "$(rc SET "$key" hello EX 60)" == OK && "$(rc GET "$key")" == hello ]] || die "redis: SET/GET"
rc DEL "$key" >/dev/null
ok "redis: SET/GET/DEL on $SERVICES_HOST:$REDIS_PORT"

# --- Cassandra: port, start-up line, then real CQL over the native protocol -----------------
port_open "$SERVICES_HOST" "$CASSANDRA_PORT" || die "cassandra: port $CASSANDRA_PORT closed"
if our_pid cassandra java >/dev/null; then
  grep -q 'Startup complete' "$CASSANDRA_LOG" || die "cassandra: no 'Startup complete' in $CASSANDRA_LOG"
  ok "cassandra: 'Startup complete' in ${CASSANDRA_LOG#"$HERALD_ROOT"/}"
fi
node "$here/cql-smoke.mjs" "$SERVICES_HOST" "$CASSANDRA_PORT" >&2 || die "cassandra: CQL smoke"
ok "cassandra: CQL on $SERVICES_HOST:$CASSANDRA_PORT"

# --- Elasticsearch: health, product header, template with 0 replicas, index + search --------
es="$ELASTICSEARCH_URL_LOCAL"
curl -fsS -m 10 "$es/_cluster/health" >/dev/null || die "elasticsearch: /_cluster/health"
headers="$(curl -fsS -m 10 -D - -o /dev/null "$es/")"
grep -qi '^x-elastic-product: *Elasticsearch' <<<"$headers" || die "elasticsearch: no X-elastic-product header"
ok "elasticsearch: X-elastic-product: Elasticsearch, version $(curl -fsS -m 10 "$es/" | sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p')"

json() { curl -fsS -m 30 -H 'Content-Type: application/json' "$@"; }
index="herald-smoke-$$"
# Single node: an index with the default 1 replica stays yellow forever; templates set 0.
json -X PUT "$es/_index_template/herald-smoke" -d '{
  "index_patterns": ["herald-smoke-*"],
  "template": {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {"properties": {"title": {"type": "text"}, "urgency": {"type": "keyword"}}}
  }
}' >/dev/null || die "elasticsearch: PUT index template"
json -X PUT "$es/$index/_doc/1?refresh=true" -d '{"title": "Hello from Herald", "urgency": "high"}' >/dev/null ||
  die "elasticsearch: index a document"
hits="$(json -X POST "$es/$index/_search" -d '{"query": {"bool": {"must": [{"match": {"title": "herald"}}], "filter": [{"term": {"urgency": "high"}}]}}}')" ||
  die "elasticsearch: search"
[[ "$hits" == *'"total":{"value":1,'* ]] || die "elasticsearch: expected 1 hit, got: $hits"
health="$(curl -fsS -m 30 "$es/_cluster/health/$index?wait_for_status=green&timeout=20s")"
[[ "$health" == *'"status":"green"'* ]] || die "elasticsearch: index not green: $health"
curl -fsS -m 30 -X DELETE "$es/$index" >/dev/null
curl -fsS -m 30 -X DELETE "$es/_index_template/herald-smoke" >/dev/null
ok "elasticsearch: template (0 replicas) -> index green, indexed + found 1 document, cleaned up"

log "smoke: all OK"
