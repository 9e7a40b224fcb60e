# shellcheck shell=bash
# Shared settings and helpers for services/start.sh and services/stop.sh. Sourced, not run.
#
# Everything the services write (data, logs, pid files, certificates, the ports file's secrets) lives under
# RULETRAIL_SERVICES_DIR; downloads are cached under RULETRAIL_CACHE_DIR and ~/.m2 so a second run is offline.
set -euo pipefail

SERVICES_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVICES_HOME/.." && pwd)"

# ---- versions (Maven Central coordinates) ----
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
# The integ-test-zip is on Maven Central for 9.x too, although its maven-metadata.xml lists only up to 8.19.x.
ES_VERSION="${ES_VERSION:-9.5.3}"
# Toxiproxy, built with `go install` from the Go module proxy (test/chaos/ network faults).
TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-v2.12.0}"

# Go (for the Fluent forward receiver) lives in /usr/local/go on these machines, not always on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; fi

# ---- JDKs ----
TEMURIN25=/usr/lib/jvm/temurin-25-jdk-amd64
if [[ -z "${KAFKA_JAVA_HOME:-}" ]]; then
  if [[ -x "$TEMURIN25/bin/java" ]]; then KAFKA_JAVA_HOME="$TEMURIN25"; else KAFKA_JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"; fi
fi
ES_JAVA_HOME="${ES_JAVA_HOME:-$TEMURIN25}"

# ---- places ----
RULETRAIL_SERVICES_DIR="${RULETRAIL_SERVICES_DIR:-/tmp/ruletrail-services}"
RULETRAIL_CACHE_DIR="${RULETRAIL_CACHE_DIR:-$HOME/.cache/ruletrail}"
# Maven's local repository (the download cache for the Kafka jars and the Elasticsearch zip).
M2_REPO="${M2_REPO:-$HOME/.m2/repository}"
PORTS_FILE="${RULETRAIL_PORTS_FILE:-$SERVICES_HOME/.env.ports}"
# Elasticsearch refuses to run as root: it runs as this unprivileged system user.
ES_USER="${RULETRAIL_ES_USER:-rtsvc}"

# ---- fixed loopback ports, overridable ----
HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-19094}"
ES_PORT="${ES_PORT:-19200}"
ES_SECURE_PORT="${ES_SECURE_PORT:-19201}"
ES_THROTTLED_PORT="${ES_THROTTLED_PORT:-19202}"
FLUENTD_PORT="${FLUENTD_PORT:-19224}"
FLUENTD_TLS_PORT="${FLUENTD_TLS_PORT:-19225}"
TOXIPROXY_PORT="${TOXIPROXY_PORT:-19474}"

# ---- heaps (2 cores / 24 GiB shared with everything else) ----
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx512m}"
ES_HEAP="${ES_HEAP:--Xms1g -Xmx1g}"
ES_SMALL_HEAP="${ES_SMALL_HEAP:--Xms512m -Xmx512m}"

log() { printf '[services %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# show_logs lines file...: the last lines of each existing file, each under a header, on stderr. Never fails:
# it runs right before `die`, whose message must not be replaced by tail's own error (`tail -30 a b` is the
# obsolete option form, which GNU tail refuses with several files, hiding why a node was not healthy).
show_logs() {
  local n="$1" f shown=0; shift
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    printf '==> %s (last %s lines) <==\n' "$f" "$n" >&2
    tail -n "$n" -- "$f" >&2 || true
    shown=1
  done
  [[ $shown == 1 ]] || log "no log file to show among: $*"
  return 0
}

# wait_for "what" timeout_seconds command...: polls the command once a second; exit status 2 from the
# command means "the process died" and stops waiting at once.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local start=$SECONDS rc
  while true; do
    rc=0; "$@" >/dev/null 2>&1 || rc=$?
    ((rc == 0)) && break
    if ((rc == 2)); then log "$what exited while starting"; return 1; fi
    if ((SECONDS - start >= timeout)); then log "$what not ready after ${timeout}s"; return 1; fi
    sleep 1
  done
  log "$what ready after $((SECONDS - start))s"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process in a pid file: TERM, wait up to $2 seconds, then KILL.
stop_pid() {
  local pidfile="$1" grace="${2:-30}" name="$3"
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - start >= grace)); then log "$name did not stop in ${grace}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.5
  done
  rm -f "$pidfile"
}

# Sets KEY=VALUE in the ports file (created 0600: it also holds the test services' generated secrets). In a
# subshell, so the umask stays local, and under a lock, so two start.sh runs at once cannot drop each other's lines.
set_port_var() {
  local key="$1" value="$2"
  (
    umask 077
    exec 9>"$PORTS_FILE.lock"
    flock 9
    touch "$PORTS_FILE"
    local tmp; tmp="$(mktemp)"
    grep -v "^$key=" "$PORTS_FILE" >"$tmp" || true
    printf '%s=%s\n' "$key" "$value" >>"$tmp"
    mv "$tmp" "$PORTS_FILE"
    chmod 600 "$PORTS_FILE"
  )
}

unset_port_vars() {
  local prefix="$1"
  [[ -f "$PORTS_FILE" ]] || return 0
  (
    exec 9>"$PORTS_FILE.lock"
    flock 9
    local tmp; tmp="$(mktemp)"
    grep -v "^$prefix" "$PORTS_FILE" >"$tmp" || true
    mv "$tmp" "$PORTS_FILE"
    chmod 600 "$PORTS_FILE"
    [[ -s "$PORTS_FILE" ]] || rm -f "$PORTS_FILE"
  )
}

mvn_quiet() { mvn -B -q --no-transfer-progress -Dmaven.repo.local="$M2_REPO" "$@"; }

random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24; }
