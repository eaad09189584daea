# shellcheck shell=bash
# Elasticsearch 7.17.29 from its Maven Central jars + our launcher
# (scripts/services/elasticsearch/HeraldElasticsearch.java), on JDK 17. Sourced by up.sh / down.sh.
#
# Only what Maven Central has for 7.17: the server, netty4 transport, reindex, mapper-extras,
# parent-join, matrix-stats. No analysis-common, painless or ingest-common: only the core
# analyzers (standard, simple, stop, whitespace, keyword; lowercase) and no scripts. x-pack is
# not loaded (no security: plain http, no xpack.* settings).
#
# Its jars live in their own lib-elasticsearch/, never mixed with Cassandra's: the two pin
# different netty, jackson and Lucene versions.

ELASTICSEARCH_VERSION=7.17.29
# log4j-core must match the log4j-api that the server depends on (dependency:tree shows 2.17.1).
ELASTICSEARCH_LOG4J_VERSION=2.17.1
ELASTICSEARCH_LIB="$SERVICES_DIR/lib-elasticsearch"
ELASTICSEARCH_DIR="$SERVICES_DIR/elasticsearch"
ELASTICSEARCH_LOG="$SERVICES_LOGS/elasticsearch.log"
ELASTICSEARCH_LAUNCHER_SRC="$SERVICES_SCRIPTS/elasticsearch/HeraldElasticsearch.java"
ELASTICSEARCH_URL_LOCAL="http://$SERVICES_HOST:$ELASTICSEARCH_PORT"

# Ready = GET /_cluster/health answers 200 (503 until the node has elected itself master).
elasticsearch_ready() {
  [[ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$ELASTICSEARCH_URL_LOCAL/_cluster/health" 2>/dev/null)" == 200 ]]
}

# A server that answers with the X-elastic-product header (every 7.14+ response) is reusable.
elasticsearch_is_es() {
  curl -s -D - -o /dev/null -m 5 "$ELASTICSEARCH_URL_LOCAL/" 2>/dev/null | grep -qi '^x-elastic-product: *Elasticsearch'
}

_es_dep() {
  printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$1" "$2" "$3"
}

elasticsearch_prepare() {
  if our_pid elasticsearch java >/dev/null || elasticsearch_is_es; then return 0; fi
  local v=$ELASTICSEARCH_VERSION deps
  deps="$(
    _es_dep org.elasticsearch elasticsearch "$v"
    _es_dep org.elasticsearch.plugin transport-netty4-client "$v"
    _es_dep org.elasticsearch.plugin reindex-client "$v"
    _es_dep org.elasticsearch.plugin mapper-extras-client "$v"
    _es_dep org.elasticsearch.plugin parent-join-client "$v"
    _es_dep org.elasticsearch.plugin aggs-matrix-stats-client "$v"
    _es_dep org.apache.logging.log4j log4j-core "$ELASTICSEARCH_LOG4J_VERSION"
  )"
  maven_copy elasticsearch "$deps" "$ELASTICSEARCH_LIB" || return 1

  # Compile the launcher once (again only when its source changes or the jars were refetched).
  local classes="$ELASTICSEARCH_DIR/classes"
  local class="$classes/HeraldElasticsearch.class"
  if [[ ! -f "$class" || "$ELASTICSEARCH_LAUNCHER_SRC" -nt "$class" || "$ELASTICSEARCH_LIB/.complete" -nt "$class" ]]; then
    log "elasticsearch: compiling the launcher"
    rm -rf "$classes"
    mkdir -p "$classes"
    "$JAVAC" -nowarn -encoding UTF-8 -cp "$ELASTICSEARCH_LIB/*" -d "$classes" "$ELASTICSEARCH_LAUNCHER_SRC" >&2 || {
      log "ERROR: elasticsearch: javac failed"
      return 1
    }
  fi
  mkdir -p "$ELASTICSEARCH_DIR/home" "$ELASTICSEARCH_DIR/tmp"
}

elasticsearch_start() {
  local pid
  if pid="$(our_pid elasticsearch java)"; then
    log "elasticsearch: already running (started by up.sh, pid $pid) on $SERVICES_HOST:$ELASTICSEARCH_PORT"
    return 0
  fi
  if elasticsearch_is_es; then
    log "elasticsearch: reusing the Elasticsearch already answering on $ELASTICSEARCH_URL_LOCAL"
    return 0
  fi
  if port_open "$SERVICES_HOST" "$ELASTICSEARCH_PORT"; then
    log "ERROR: elasticsearch: port $ELASTICSEARCH_PORT is taken by something that is not Elasticsearch (set HERALD_SERVICES_ELASTICSEARCH_PORT)"
    return 1
  fi
  # shellcheck disable=SC2054 # the comma in -Djava.locale.providers=SPI,COMPAT is meant
  local -a jvm=(
    -Xms512m -Xmx1g
    -XX:+UseG1GC
    # A JVM out of heap is dead for tests: exit rather than limp on (ES's bootstrap, which we
    # skip, would do the same through its uncaught-exception handler).
    -XX:+ExitOnOutOfMemoryError
    # From ES's own system JVM options:
    # keep log4j running until our shutdown hook has closed the node; no log4j MBeans.
    -Dlog4j.shutdownHookEnabled=false
    -Dlog4j2.disable.jmx=true
    # Netty as ES configures it: no Unsafe, no selector key-set hack, no per-thread recycler,
    # heap (not direct) buffers for the allocator.
    -Dio.netty.noUnsafe=true
    -Dio.netty.noKeySetOptimization=true
    -Dio.netty.recycler.maxCapacityPerThread=0
    -Dio.netty.allocator.numDirectArenas=0
    # ES 7 date/locale handling expects its SPI locale provider, then the JDK 8 (COMPAT) data.
    -Djava.locale.providers=SPI,COMPAT
    # JNA is in the jars; do not look for a system libjnidispatch of another version.
    -Djna.nosys=true
    -Dfile.encoding=UTF-8
    -Djava.awt.headless=true
    "-Djava.io.tmpdir=$ELASTICSEARCH_DIR/tmp"
    # Our launcher's settings.
    "-Dherald.es.home=$ELASTICSEARCH_DIR/home"
    "-Dherald.es.http.port=$ELASTICSEARCH_PORT"
    "-Dherald.es.transport.port=$ELASTICSEARCH_TRANSPORT_PORT"
  )
  rotate_log "$ELASTICSEARCH_LOG"
  log "elasticsearch: starting Elasticsearch $ELASTICSEARCH_VERSION on $ELASTICSEARCH_URL_LOCAL (log: ${ELASTICSEARCH_LOG#"$HERALD_ROOT"/})"
  spawn elasticsearch "$ELASTICSEARCH_LOG" "$JAVA" "${jvm[@]}" \
    -cp "$ELASTICSEARCH_DIR/classes:$ELASTICSEARCH_LIB/*" HeraldElasticsearch
}

elasticsearch_wait() {
  if our_pid elasticsearch java >/dev/null; then
    wait_ready elasticsearch "$ELASTICSEARCH_LOG" elasticsearch java elasticsearch_ready || return 1
  elif ! elasticsearch_ready; then
    log "ERROR: elasticsearch: nothing healthy answers on $ELASTICSEARCH_URL_LOCAL"
    return 1
  fi
  log "elasticsearch: $(curl -s -m 5 "$ELASTICSEARCH_URL_LOCAL/_cluster/health" | head -c 200)"
}

elasticsearch_down() {
  stop_pid elasticsearch java 60
}
