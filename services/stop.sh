#!/usr/bin/env bash
# Stops what services/start.sh started and removes its data (the next start is fresh):
#
#   services/stop.sh [kafka|elasticsearch|elasticsearch-secure|elasticsearch-throttled|fluentd|toxiproxy|all]...
#
# Each process is stopped by the pid in its pid file (TERM, then KILL after a grace period), never by name.
# KEEP_SERVICE_LOGS=1 keeps the logs (the data dirs are removed either way).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

clean() {
  local d="$RULETRAIL_SERVICES_DIR/$1"
  [[ -d "$d" ]] || return 0
  if [[ "${KEEP_SERVICE_LOGS:-0}" == 1 ]]; then
    find "$d" -mindepth 1 -maxdepth 1 ! -name '*.log' ! -name logs -exec rm -rf {} +
  else
    rm -rf "$d"
  fi
}

stop_kafka() {
  stop_pid "$RULETRAIL_SERVICES_DIR/kafka/kafka.pid" 60 kafka
  clean kafka
  unset_port_vars KAFKA_
}

stop_es() {
  local name="$1" prefix="$2"
  stop_pid "$RULETRAIL_SERVICES_DIR/$name/es.pid" 60 "$name"
  clean "$name"
  unset_port_vars "$prefix"
}

stop_fluentd() {
  stop_pid "$RULETRAIL_SERVICES_DIR/fluentd/stunnel.pid" 20 "fluentd TLS (stunnel)"
  stop_pid "$RULETRAIL_SERVICES_DIR/fluentd/receiver.pid" 20 "fluentd receiver"
  clean fluentd
  unset_port_vars FLUENTD_
}

stop_toxiproxy() {
  stop_pid "$RULETRAIL_SERVICES_DIR/toxiproxy/toxiproxy.pid" 10 toxiproxy
  clean toxiproxy
  unset_port_vars TOXIPROXY_
}

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    kafka) stop_kafka ;;
    elasticsearch) stop_es elasticsearch 'ES_URL=\|ES_VERSION=\|ES_PID_FILE=' ;;
    elasticsearch-secure) stop_es elasticsearch-secure ES_SECURE_ ;;
    elasticsearch-throttled) stop_es elasticsearch-throttled ES_THROTTLED_ ;;
    fluentd) stop_fluentd ;;
    toxiproxy) stop_toxiproxy ;;
    all)
      stop_toxiproxy
      stop_fluentd
      stop_es elasticsearch-throttled ES_THROTTLED_
      stop_es elasticsearch-secure ES_SECURE_
      stop_es elasticsearch 'ES_URL=\|ES_VERSION=\|ES_PID_FILE='
      stop_kafka
      if [[ "${KEEP_SERVICE_LOGS:-0}" != 1 ]]; then rm -rf "$RULETRAIL_SERVICES_DIR/certs"; fi
      rm -f "$PORTS_FILE"
      ;;
    *) die "unknown service '$t'" ;;
  esac
done
log "stopped ${targets[*]}"
