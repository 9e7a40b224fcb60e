#!/usr/bin/env bash
# Starts the real servers the sink integration tests and benchmarks run against, on 127.0.0.1, without Docker:
#
#   services/start.sh [kafka|elasticsearch|elasticsearch-secure|elasticsearch-throttled|fluentd|all]...
#   services/start.sh kafka-restart | elasticsearch-restart | fluentd-restart   (after a kill or stop: same data dir)
#
#   kafka                    Apache Kafka 4.x, single-node KRaft (broker+controller), jars from Maven Central.
#                            PLAINTEXT on KAFKA_PORT and SASL_SSL (SCRAM-SHA-512/256, test CA) on KAFKA_SASL_SSL_PORT.
#   elasticsearch            Elasticsearch integ-test-zip from Maven Central, security off, on ES_PORT.
#   elasticsearch-secure     The same distribution with TLS on HTTP, file-realm users (basic auth) and API keys (the
#                            .security index needs services/es-security-analysis/, built here), on ES_SECURE_PORT.
#   elasticsearch-throttled  Security off, one write thread and a write queue of 1: a real 429 storm, on ES_THROTTLED_PORT.
#   toxiproxy                Shopify's Toxiproxy (go install, cached), HTTP API on TOXIPROXY_PORT: network faults for
#                            the chaos harness (test/chaos/), which makes its own proxies. Not part of `all`.
#   fluentd                  The OpenTelemetry Collector's Fluent forward receiver (acks chunks) writing what it
#                            receives to a JSON-lines file; built from Go modules, on FLUENTD_PORT. In front of it,
#                            stunnel (Debian's stunnel4) terminates TLS with the test CA's server certificate on
#                            FLUENTD_TLS_PORT (the receiver has no TLS listener). fluentd-restart restarts only the
#                            receiver; stunnel stays up.
#
# Each start gets a fresh data dir (the format step runs every time). Downloads are cached (~/.m2, ~/go/pkg/mod,
# RULETRAIL_CACHE_DIR). Every service's address, and the generated test credentials, go to services/.env.ports
# (mode 0600), which the integration tests read. Logs: $RULETRAIL_SERVICES_DIR/<service>/*.log.
# KAFKA_PROXIED_PORT + KAFKA_PROXIED_ADVERTISED_PORT add a Kafka listener meant to be reached through a
# Toxiproxy (the chaos harness, test/chaos/).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$RULETRAIL_SERVICES_DIR" "$RULETRAIL_CACHE_DIR"
chmod 755 "$RULETRAIL_SERVICES_DIR"

# ------------------------------------------------------------------------------------------------ certificates
# One throw-away CA per services dir; a server certificate for 127.0.0.1/localhost used by ES and Kafka TLS.
ensure_certs() {
  local d="$RULETRAIL_SERVICES_DIR/certs"
  [[ -f "$d/server.crt" ]] && return 0
  mkdir -p "$d"
  log "generating a test CA and a server certificate in $d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=ruletrail test CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 7 \
    -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  # Kafka's file-based PEM key store wants an encrypted PKCS#8 key.
  local kpw; kpw="$(random_secret)"
  openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$d/server.key" -passout "pass:$kpw" -out "$d/server.enc.key"
  cat "$d/server.enc.key" "$d/server.crt" >"$d/kafka-keystore.pem"
  printf '%s' "$kpw" >"$d/kafka-key.password"
  chmod 644 "$d/ca.crt" "$d/server.crt"
  chmod 640 "$d/server.key"
  chgrp "$(id -gn "$ES_USER" 2>/dev/null || echo root)" "$d/server.key" 2>/dev/null || true
  set_port_var RULETRAIL_TEST_CA "$d/ca.crt"
}

# ------------------------------------------------------------------------------------------------------- kafka
kafka_libs() {
  local libs="$RULETRAIL_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
  if [[ ! -f "$libs/.complete" ]]; then
    log "resolving Kafka $KAFKA_VERSION and its runtime dependencies from Maven Central"
    rm -rf "$libs"; mkdir -p "$libs"
    mvn_quiet -f "$SERVICES_HOME/maven/kafka.pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
    touch "$libs/.complete"
  fi
  printf '%s' "$libs"
}

kafka_java() {
  local d="$1"; shift
  "$KAFKA_JAVA_HOME/bin/java" $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$d/log4j2.properties" -cp "$(kafka_libs)/*" "$@"
}

kafka_launch() {
  local d="$RULETRAIL_SERVICES_DIR/kafka"
  log "starting Kafka broker on $HOST:$KAFKA_PORT (SASL_SSL $KAFKA_SASL_SSL_PORT)"
  # setsid: its own process group, so a test can kill -9 the broker without touching its parent.
  setsid "$KAFKA_JAVA_HOME/bin/java" $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$d/log4j2.properties" -cp "$(kafka_libs)/*" \
    kafka.Kafka "$d/server.properties" >>"$d/kafka.log" 2>&1 </dev/null &
  echo $! >"$d/kafka.pid"
  if ! wait_for "Kafka" 120 kafka_ready "$d"; then
    show_logs 40 "$d/kafka.log"; die "Kafka did not start in 120s (log: $d/kafka.log)"
  fi
}

kafka_ready() {
  pid_alive "$1/kafka.pid" || return 2
  port_open "$KAFKA_PORT" && port_open "$KAFKA_SASL_SSL_PORT" && grep -q 'Kafka Server started' "$1/kafka.log"
}

start_kafka() {
  local d="$RULETRAIL_SERVICES_DIR/kafka"
  if pid_alive "$d/kafka.pid"; then log "Kafka already running"; return 0; fi
  ensure_certs
  kafka_libs >/dev/null
  rm -rf "$d"; mkdir -p "$d/data"
  local c="$RULETRAIL_SERVICES_DIR/certs"
  local scram_user=ruletrail scram_pw; scram_pw="$(random_secret)"
  # Optional fourth listener for fault injection (test/chaos): the broker listens on KAFKA_PROXIED_PORT and
  # advertises KAFKA_PROXIED_ADVERTISED_PORT, where a Toxiproxy forwards to it. A client bootstrapped through the
  # proxy is then told to reach the broker through the proxy too (the plain listener would be bypassed).
  local proxied_listener='' proxied_advertised='' proxied_map=''
  if [[ -n "${KAFKA_PROXIED_PORT:-}" && -n "${KAFKA_PROXIED_ADVERTISED_PORT:-}" ]]; then
    proxied_listener=",PROXIED://$HOST:$KAFKA_PROXIED_PORT"
    proxied_advertised=",PROXIED://$HOST:$KAFKA_PROXIED_ADVERTISED_PORT"
    proxied_map=",PROXIED:PLAINTEXT"
  fi
  cat >"$d/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
  cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT,SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT$proxied_listener
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT,SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT$proxied_advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL$proxied_map
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$c/kafka-keystore.pem
ssl.key.password=$(cat "$c/kafka-key.password")
log.dirs=$d/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.flush.interval.messages=9223372036854775807
EOF
  chmod 600 "$d/server.properties"
  local cluster_id; cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  log "formatting Kafka storage (cluster $cluster_id)"
  kafka_java "$d" kafka.tools.StorageTool format --standalone --cluster-id "$cluster_id" \
    --config "$d/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$scram_user,password=$scram_pw]" \
    --add-scram "SCRAM-SHA-256=[name=$scram_user,password=$scram_pw]" >>"$d/format.log" 2>&1 ||
    { cat "$d/format.log" >&2; die "kafka-storage format failed"; }
  kafka_launch
  set_port_var KAFKA_VERSION "$KAFKA_VERSION"
  set_port_var KAFKA_BROKERS "$HOST:$KAFKA_PORT"
  set_port_var KAFKA_SASL_SSL_BROKERS "$HOST:$KAFKA_SASL_SSL_PORT"
  set_port_var KAFKA_SCRAM_USERNAME "$scram_user"
  set_port_var KAFKA_SCRAM_PASSWORD "$scram_pw"
  set_port_var KAFKA_PID_FILE "$d/kafka.pid"
  set_port_var KAFKA_LOG "$d/kafka.log"
  if [[ -n "$proxied_listener" ]]; then
    set_port_var KAFKA_PROXIED_BROKERS "$HOST:$KAFKA_PROXIED_ADVERTISED_PORT"
    set_port_var KAFKA_PROXIED_UPSTREAM "$HOST:$KAFKA_PROXIED_PORT"
  fi
}

# After `kill -9`: start the broker again on the same (formatted) data dir.
restart_kafka() {
  local d="$RULETRAIL_SERVICES_DIR/kafka"
  [[ -f "$d/server.properties" ]] || die "no Kafka data dir to restart; run services/start.sh kafka"
  if pid_alive "$d/kafka.pid"; then log "Kafka already running"; return 0; fi
  echo "---- restart $(date -u +%FT%TZ) ----" >>"$d/kafka.log"
  kafka_launch
}

# ----------------------------------------------------------------------------------------------- elasticsearch
es_zip() {
  local zip="$M2_REPO/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
  if [[ ! -f "$zip" ]]; then
    log "downloading the Elasticsearch $ES_VERSION integ-test-zip from Maven Central"
    mvn_quiet dependency:get -Dtransitive=false \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" >&2
  fi
  printf '%s' "$zip"
}

ensure_es_user() {
  id "$ES_USER" >/dev/null 2>&1 && return 0
  log "creating the unprivileged system user $ES_USER for Elasticsearch"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
}

es_as_user() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u "$ES_USER" -- "$@"; else "$@"; fi
}

# start_es <name> <http port> <transport port> <heap> [extra -E settings...]
start_es() {
  local name="$1" port="$2" tport="$3" heap="$4"; shift 4
  local d="$RULETRAIL_SERVICES_DIR/$name"
  if pid_alive "$d/es.pid"; then log "$name already running"; return 0; fi
  [[ -x "$ES_JAVA_HOME/bin/java" ]] || die "ES_JAVA_HOME=$ES_JAVA_HOME has no java"
  local zip; zip="$(es_zip)"
  if [[ "$(id -u)" == 0 ]]; then ensure_es_user; fi
  rm -rf "$d"; mkdir -p "$d"
  unzip -q "$zip" -d "$d"
  mv "$d/elasticsearch-$ES_VERSION" "$d/home"
  mkdir -p "$d/data" "$d/logs" "$d/tmp"
  [[ "$(id -u)" == 0 ]] && chown -R "$ES_USER" "$d"
  ES_PREPARE_HOOK="${ES_PREPARE_HOOK:-}"
  if [[ -n "$ES_PREPARE_HOOK" ]]; then "$ES_PREPARE_HOOK" "$d"; fi
  es_launch "$name" "$port" "$tport" "$heap" "$@"
}

# es_launch <name> <http port> <transport port> <heap> [extra -E settings...]: starts the node on its existing
# home and data dir (start_es prepares them; a restart reuses them).
es_launch() {
  local name="$1" port="$2" tport="$3" heap="$4"; shift 4
  local d="$RULETRAIL_SERVICES_DIR/$name"
  log "starting $name (Elasticsearch $ES_VERSION) on $HOST:$port"
  es_as_user env ES_JAVA_HOME="$ES_JAVA_HOME" ES_JAVA_OPTS="$heap" ES_TMPDIR="$d/tmp" ES_PATH_CONF="$d/home/config" \
    "$d/home/bin/elasticsearch" -d -p "$d/es.pid" \
    -E cluster.name="ruletrail-$name" -E node.name="$name" \
    -E discovery.type=single-node -E network.host="$HOST" -E http.port="$port" -E transport.port="$tport" \
    -E cluster.routing.allocation.disk.threshold_enabled=false -E path.data="$d/data" -E path.logs="$d/logs" \
    -E action.destructive_requires_name=false \
    "$@" >"$d/stdout.log" 2>&1 || { cat "$d/stdout.log" >&2; die "$name did not start"; }
}

es_health() { curl -fsS "${@:2}" "$1/_cluster/health?wait_for_status=yellow&timeout=1s"; }

start_elasticsearch() {
  start_es elasticsearch "$ES_PORT" $((ES_PORT + 100)) "$ES_HEAP" -E xpack.security.enabled=false
  wait_for "elasticsearch" 120 es_health "http://$HOST:$ES_PORT" ||
    { show_logs 30 "$RULETRAIL_SERVICES_DIR/elasticsearch/logs/"*.log; die "elasticsearch not healthy in 120s"; }
  set_port_var ES_URL "http://$HOST:$ES_PORT"
  set_port_var ES_VERSION "$ES_VERSION"
  set_port_var ES_PID_FILE "$RULETRAIL_SERVICES_DIR/elasticsearch/es.pid"
}

# After a stop (test/chaos stops the node for 30 s mid-bulk): start it again on the same data dir.
restart_elasticsearch() {
  local d="$RULETRAIL_SERVICES_DIR/elasticsearch"
  [[ -d "$d/home" ]] || die "no Elasticsearch node to restart; run services/start.sh elasticsearch"
  if pid_alive "$d/es.pid"; then log "elasticsearch already running"; return 0; fi
  es_launch elasticsearch "$ES_PORT" $((ES_PORT + 100)) "$ES_HEAP" -E xpack.security.enabled=false
  wait_for "elasticsearch" 120 es_health "http://$HOST:$ES_PORT" ||
    { show_logs 30 "$d/logs/"*.log; die "elasticsearch not healthy in 120s after the restart"; }
}

start_elasticsearch_throttled() {
  # One write thread and a queue of one: concurrent bulk requests get real 429 (es_rejected_execution_exception).
  start_es elasticsearch-throttled "$ES_THROTTLED_PORT" $((ES_THROTTLED_PORT + 100)) "$ES_SMALL_HEAP" \
    -E xpack.security.enabled=false -E thread_pool.write.size=1 -E thread_pool.write.queue_size=1
  wait_for "elasticsearch-throttled" 120 es_health "http://$HOST:$ES_THROTTLED_PORT" ||
    { show_logs 30 "$RULETRAIL_SERVICES_DIR/elasticsearch-throttled/logs/"*.log; die "elasticsearch-throttled not healthy"; }
  set_port_var ES_THROTTLED_URL "http://$HOST:$ES_THROTTLED_PORT"
}

# The integ-test-zip lacks the analysis-common module, and the .security index (native users, API keys) is
# created with an analyzer made of three of its components. services/es-security-analysis/ provides exactly
# those three as a plugin over the Lucene classes that ship in the distribution's lib/; compiled here with the
# JDK that runs Elasticsearch, against that distribution's jars, cached by source hash and version.
es_security_analysis_plugin() {
  local home="$1" src="$SERVICES_HOME/es-security-analysis"
  local sum; sum="$(cat "$src"/src/ruletrail/esanalysis/*.java | sha256sum | cut -c1-16)"
  local out="$RULETRAIL_CACHE_DIR/es-security-analysis-$ES_VERSION-$sum"
  if [[ ! -f "$out/.complete" ]]; then
    log "compiling the security-index analysis plugin for Elasticsearch $ES_VERSION"
    rm -rf "$out"; mkdir -p "$out/classes"
    "$ES_JAVA_HOME/bin/javac" --release 17 -nowarn -cp "$home/lib/*" -d "$out/classes" \
      "$src"/src/ruletrail/esanalysis/*.java >&2 || die "javac of the security-index analysis plugin failed"
    "$ES_JAVA_HOME/bin/jar" --create --file "$out/security-index-analysis.jar" -C "$out/classes" . >&2
    rm -rf "$out/classes"
    touch "$out/.complete"
  fi
  local p="$home/plugins/security-index-analysis"
  mkdir -p "$p"
  cp "$out/security-index-analysis.jar" "$p/"
  cat >"$p/plugin-descriptor.properties" <<EOF2
description=uax_url_email, pattern_capture and unique for the .security index (ruletrail test services)
version=$ES_VERSION
name=security-index-analysis
classname=ruletrail.esanalysis.SecurityIndexAnalysisPlugin
java.version=17
elasticsearch.version=$ES_VERSION
EOF2
  # Readable by the Elasticsearch user whatever umask this script runs under.
  chmod -R u+rwX,go+rX "$p"
  chown -R "$ES_USER" "$p" 2>/dev/null || true
}

es_secure_prepare() {
  local d="$1" c="$RULETRAIL_SERVICES_DIR/certs"
  mkdir -p "$d/home/config/certs"
  cp "$c/ca.crt" "$c/server.crt" "$c/server.key" "$d/home/config/certs/"
  es_security_analysis_plugin "$d/home"
  # File-realm users and roles (the admin bootstraps; API keys are then created through the real security API).
  # The writer gets what Filebeat's publishing role gets: create_doc + auto_configure on ruletrail-* only.
  cat >>"$d/home/config/roles.yml" <<'EOF2'
ruletrail_writer:
  cluster: ['monitor']
  indices:
    - names: ['ruletrail-*']
      privileges: ['create_doc', 'auto_configure', 'view_index_metadata']
EOF2
  chown -R "$ES_USER" "$d/home/config" 2>/dev/null || true
  local users=(env ES_JAVA_HOME="$ES_JAVA_HOME" ES_PATH_CONF="$d/home/config" "$d/home/bin/elasticsearch-users")
  es_as_user "${users[@]}" useradd ruletrail_admin -p "$ES_ADMIN_PASSWORD" -r superuser >/dev/null
  es_as_user "${users[@]}" useradd ruletrail_writer -p "$ES_WRITER_PASSWORD" -r ruletrail_writer >/dev/null
}

start_elasticsearch_secure() {
  ensure_certs
  local c="$RULETRAIL_SERVICES_DIR/certs" url="https://$HOST:$ES_SECURE_PORT"
  ES_ADMIN_PASSWORD="$(random_secret)" ES_WRITER_PASSWORD="$(random_secret)"
  ES_PREPARE_HOOK=es_secure_prepare start_es elasticsearch-secure "$ES_SECURE_PORT" $((ES_SECURE_PORT + 100)) "$ES_SMALL_HEAP" \
    -E xpack.security.enabled=true -E xpack.security.http.ssl.enabled=true \
    -E xpack.security.http.ssl.certificate=certs/server.crt -E xpack.security.http.ssl.key=certs/server.key \
    -E xpack.security.http.ssl.certificate_authorities=certs/ca.crt -E xpack.security.transport.ssl.enabled=false
  wait_for "elasticsearch-secure" 120 es_health "$url" --cacert "$c/ca.crt" -u "ruletrail_admin:$ES_ADMIN_PASSWORD" ||
    { show_logs 30 "$RULETRAIL_SERVICES_DIR/elasticsearch-secure/logs/"*.log; die "elasticsearch-secure not healthy"; }
  set_port_var ES_SECURE_URL "$url"
  set_port_var ES_SECURE_CA "$c/ca.crt"
  set_port_var ES_SECURE_ADMIN_USERNAME ruletrail_admin
  set_port_var ES_SECURE_ADMIN_PASSWORD "$ES_ADMIN_PASSWORD"
  set_port_var ES_SECURE_WRITER_USERNAME ruletrail_writer
  set_port_var ES_SECURE_WRITER_PASSWORD "$ES_WRITER_PASSWORD"
}

# ---------------------------------------------------------------------------------------------------- fluentd
fluent_receiver_bin() {
  local src="$SERVICES_HOME/fluentd-receiver"
  local sum; sum="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)"
  local bin="$RULETRAIL_CACHE_DIR/bin/rt-fluent-receiver-$sum"
  if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || die "Go is needed to build the Fluent forward receiver (OpenTelemetry Collector)"
    log "building the Fluent forward receiver (OpenTelemetry Collector fluentforward receiver) with Go"
    mkdir -p "$(dirname "$bin")"
    local blog="$RULETRAIL_SERVICES_DIR/receiver-build.log"
    (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" .) >"$blog" 2>&1 ||
      { show_logs 40 "$blog"; die "go build of the receiver failed (log: $blog)"; }
    mv "$bin.tmp" "$bin"
  fi
  printf '%s' "$bin"
}

fluentd_launch() {
  local d="$RULETRAIL_SERVICES_DIR/fluentd"
  log "starting the Fluent forward receiver on $HOST:$FLUENTD_PORT"
  setsid "$(fluent_receiver_bin)" --config "file:$d/config.yaml" >>"$d/receiver.log" 2>&1 </dev/null &
  echo $! >"$d/receiver.pid"
  wait_for "fluentd receiver" 60 fluentd_ready "$d" || { show_logs 30 "$d/receiver.log"; die "receiver did not start"; }
}

fluentd_ready() {
  pid_alive "$1/receiver.pid" || return 2
  port_open "$FLUENTD_PORT"
}

start_fluentd() {
  local d="$RULETRAIL_SERVICES_DIR/fluentd"
  if pid_alive "$d/receiver.pid"; then log "fluentd receiver already running"; fluentd_tls_start; return 0; fi
  ensure_certs
  fluentd_stunnel_bin >/dev/null
  fluent_receiver_bin >/dev/null
  # A stunnel left from a receiver that died: its pid file is about to be removed with the data dir.
  stop_pid "$d/stunnel.pid" 20 "fluentd TLS (stunnel)"
  rm -rf "$d"; mkdir -p "$d"
  cat >"$d/config.yaml" <<EOF
receivers:
  fluent_forward:
    endpoint: $HOST:$FLUENTD_PORT
exporters:
  file:
    path: $d/received.jsonl
    # Keep what earlier runs wrote when the receiver is restarted (the default truncates on start).
    append: true
    format: json
service:
  telemetry:
    logs:
      level: info
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [fluent_forward]
      exporters: [file]
EOF
  fluentd_launch
  set_port_var FLUENTD_HOST "$HOST"
  set_port_var FLUENTD_PORT "$FLUENTD_PORT"
  set_port_var FLUENTD_RECEIVED_FILE "$d/received.jsonl"
  set_port_var FLUENTD_PID_FILE "$d/receiver.pid"
  fluentd_tls_start
}

# TLS in front of the receiver (which has none): stunnel terminates TLS on FLUENTD_TLS_PORT with the test CA's
# server certificate (SAN IP:127.0.0.1, DNS:localhost) and forwards the plain stream to FLUENTD_PORT.
fluentd_stunnel_bin() {
  command -v stunnel4 || command -v stunnel ||
    die "stunnel is needed for the Fluentd TLS listener: apt-get install stunnel4 (bash lab/install.sh installs it)"
}

fluentd_tls_start() {
  local d="$RULETRAIL_SERVICES_DIR/fluentd" c="$RULETRAIL_SERVICES_DIR/certs"
  if ! pid_alive "$d/stunnel.pid"; then
    ensure_certs
    local bin; bin="$(fluentd_stunnel_bin)"
    cat >"$d/stunnel.conf" <<EOF
; stunnel: TLS for the Fluent forward receiver. Runs in the foreground of its own session (setsid), pid in stunnel.pid.
foreground = quiet
syslog = no
output = $d/stunnel.log
debug = notice
[fluentd-tls]
accept = $HOST:$FLUENTD_TLS_PORT
connect = $HOST:$FLUENTD_PORT
cert = $c/server.crt
key = $c/server.key
EOF
    log "starting stunnel (TLS) on $HOST:$FLUENTD_TLS_PORT -> $HOST:$FLUENTD_PORT"
    setsid "$bin" "$d/stunnel.conf" >>"$d/stunnel.log" 2>&1 </dev/null &
    echo $! >"$d/stunnel.pid"
    wait_for "fluentd TLS (stunnel)" 30 fluentd_tls_ready "$d" "$c/ca.crt" ||
      { show_logs 30 "$d/stunnel.log"; die "stunnel did not start (log: $d/stunnel.log)"; }
  fi
  set_port_var FLUENTD_TLS_PORT "$FLUENTD_TLS_PORT"
  set_port_var FLUENTD_TLS_CA "$c/ca.crt"
}

# Ready = a TLS handshake verified against the test CA for 127.0.0.1 succeeds.
fluentd_tls_ready() {
  pid_alive "$1/stunnel.pid" || return 2
  port_open "$FLUENTD_TLS_PORT" || return 1
  local out
  out="$(openssl s_client -connect "$HOST:$FLUENTD_TLS_PORT" -CAfile "$2" -verify_ip "$HOST" -verify_return_error \
    </dev/null 2>&1 || true)"
  [[ "$out" == *'Verify return code: 0 (ok)'* ]]
}

restart_fluentd() {
  local d="$RULETRAIL_SERVICES_DIR/fluentd"
  [[ -f "$d/config.yaml" ]] || die "no receiver config to restart; run services/start.sh fluentd"
  if pid_alive "$d/receiver.pid"; then log "fluentd receiver already running"; return 0; fi
  fluentd_launch
}

# -------------------------------------------------------------------------------------------------- toxiproxy
# Shopify's Toxiproxy (network faults for the chaos harness, test/chaos/), built from its Go module with
# `go install` into the cache; its HTTP API on TOXIPROXY_PORT. The harness creates the proxies and toxics.
toxiproxy_bin() {
  local dir="$RULETRAIL_CACHE_DIR/toxiproxy-$TOXIPROXY_VERSION"
  if [[ ! -x "$dir/server" ]]; then
    command -v go >/dev/null || die "Go is needed to build Toxiproxy"
    log "building Toxiproxy $TOXIPROXY_VERSION with go install"
    mkdir -p "$dir" "$RULETRAIL_SERVICES_DIR"
    local blog="$RULETRAIL_SERVICES_DIR/toxiproxy-build.log"
    GOBIN="$dir" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" >"$blog" 2>&1 ||
      { show_logs 40 "$blog"; die "go install of Toxiproxy failed (log: $blog)"; }
  fi
  printf '%s' "$dir/server"
}

toxiproxy_ready() {
  pid_alive "$1/toxiproxy.pid" || return 2
  curl -fsS "http://$HOST:$TOXIPROXY_PORT/version"
}

start_toxiproxy() {
  local d="$RULETRAIL_SERVICES_DIR/toxiproxy"
  if pid_alive "$d/toxiproxy.pid"; then log "Toxiproxy already running"; return 0; fi
  local bin; bin="$(toxiproxy_bin)"
  rm -rf "$d"; mkdir -p "$d"
  log "starting Toxiproxy on $HOST:$TOXIPROXY_PORT"
  setsid "$bin" -host "$HOST" -port "$TOXIPROXY_PORT" >>"$d/toxiproxy.log" 2>&1 </dev/null &
  echo $! >"$d/toxiproxy.pid"
  wait_for "Toxiproxy" 30 toxiproxy_ready "$d" || { show_logs 30 "$d/toxiproxy.log"; die "Toxiproxy did not start"; }
  set_port_var TOXIPROXY_URL "http://$HOST:$TOXIPROXY_PORT"
}

# ------------------------------------------------------------------------------------------------------- main
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(all)
t0=$SECONDS
for t in "${targets[@]}"; do
  case "$t" in
    kafka) start_kafka ;;
    kafka-restart) restart_kafka ;;
    elasticsearch) start_elasticsearch ;;
    elasticsearch-restart) restart_elasticsearch ;;
    elasticsearch-secure) start_elasticsearch_secure ;;
    elasticsearch-throttled) start_elasticsearch_throttled ;;
    fluentd) start_fluentd ;;
    fluentd-restart) restart_fluentd ;;
    toxiproxy) start_toxiproxy ;;
    all)
      start_kafka
      start_elasticsearch
      start_elasticsearch_secure
      start_elasticsearch_throttled
      start_fluentd
      ;;
    *) die "unknown service '$t' (kafka|elasticsearch|elasticsearch-secure|elasticsearch-throttled|fluentd|toxiproxy|all)" ;;
  esac
done
log "started ${targets[*]} in $((SECONDS - t0))s; addresses in $PORTS_FILE"
