#!/usr/bin/env bash
# prometheus.sh — a real Prometheus (Debian package) on loopback that scrapes stroom's /metrics
# every second, for the integration test, the Grafana dashboard and demos (Debian bookworm, root).
#
#   deploy/local/prometheus.sh start     install (if needed), start Prometheus, wait until it is
#                                        ready (and, with targets, until the first is up)
#   deploy/local/prometheus.sh targets [HOST:PORT[,HOST:PORT...]] [LABEL=VALUE...]
#                                        replace the scrape targets (file-based discovery, no
#                                        restart); no address: scrape nothing
#   deploy/local/prometheus.sh stop      stop Prometheus (by its PID file only)
#   deploy/local/prometheus.sh status    PID, targets file, `up` of every target
#   deploy/local/prometheus.sh restart
#
# Targets live in $PROM_LOCAL_DIR/targets/stroom.json (Prometheus file_sd format), watched by
# Prometheus: a test that starts a collector on a free port runs `targets 127.0.0.1:PORT` and
# waits for `up == 1` (the 2.42 scrape manager applies new targets on a 5 s tick).
#
# Env knobs:
#   PROM_LOCAL_DIR        base dir: config, targets, TSDB, log, PID (default /tmp/stroom-prometheus)
#   PROM_LOCAL_LISTEN     Prometheus listen address, loopback only (default 127.0.0.1:9090)
#   PROM_LOCAL_TARGETS    comma-separated HOST:PORT list written as the targets at `start`
#                         (default: none; e.g. 127.0.0.1:8080 for `stroom collector`, or agents'
#                         --metrics-listen addresses)
#   PROM_LOCAL_INTERVAL   scrape and evaluation interval (default 1s)
#   PROM_LOCAL_KEEP_DATA=1  keep the TSDB from the previous run (default: wiped at each start,
#                         so no sample of an earlier run can answer a query)
# Adapted from the project's tested recipe (shared/recipes/prometheus-local.sh): Debian's
# prometheus 2.42, no auto-started service, stopped by PID only.
set -euo pipefail

BASE=${PROM_LOCAL_DIR:-/tmp/stroom-prometheus}
LISTEN=${PROM_LOCAL_LISTEN:-127.0.0.1:9090}
INTERVAL=${PROM_LOCAL_INTERVAL:-1s}
PROM_PID=$BASE/prometheus.pid
TARGETS_FILE=$BASE/targets/stroom.json

log() { printf '[prometheus.sh] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

case "${LISTEN%:*}" in
  127.*|localhost|'[::1]') ;;
  *) log "PROM_LOCAL_LISTEN=$LISTEN: loopback only (127.x, localhost or [::1])"; exit 2 ;;
esac

pid_alive() { # pidfile comm
  [ -s "$1" ] || return 1
  local p; p=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -r "/proc/$p/comm" ] && [ "$(cat "/proc/$p/comm")" = "$2" ]
}

stop_pidfile() { # pidfile comm [timeout_s]
  local f=$1 c=$2 t=${3:-10} p
  pid_alive "$f" "$c" || { rm -f "$f"; return 0; }
  p=$(cat "$f")
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq $((t * 10))); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$c" ] || { rm -f "$f"; return 0; }
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$f"
}

install_pkgs() {
  command -v prometheus >/dev/null && return 0
  log "installing prometheus (apt)"
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # don't let the package start its own service
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # wait for a concurrent apt/dpkg instead of failing; refresh stale/missing lists and retry once
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  "${apt[@]}" install prometheus >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && "${apt[@]}" install prometheus >/dev/null; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# Write the file_sd targets atomically (Prometheus watches the directory).
write_targets() { # "h:p,h:p" [k=v ...]
  local list=$1; shift
  mkdir -p "$BASE/targets"
  python3 - "$TARGETS_FILE" "$list" "$@" <<'EOF'
import json, os, re, sys
path, targets, labels = sys.argv[1], [t for t in sys.argv[2].split(',') if t], sys.argv[3:]
for t in targets:
    if not re.fullmatch(r'(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}', t):
        sys.exit(f'target {t!r}: expected HOST:PORT')
lab = {}
for kv in labels:
    k, sep, v = kv.partition('=')
    if not sep or not re.fullmatch(r'[a-zA-Z_][a-zA-Z0-9_]*', k) or k.startswith('__'):
        sys.exit(f'label {kv!r}: expected NAME=VALUE with a Prometheus label name')
    lab[k] = v
groups = [{'targets': targets, 'labels': lab}] if targets else []
tmp = path + '.tmp'
with open(tmp, 'w') as f:
    json.dump(groups, f)
os.replace(tmp, path)
EOF
}

up_value() { # instance since_epoch: prints up{instance} if its sample is newer than since_epoch
  curl -fsS --max-time 2 "http://$LISTEN/api/v1/query" --data-urlencode "query=up{instance=\"$1\"}" 2>/dev/null |
    python3 -c 'import json,sys
r=json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r and float(r[0]["value"][0]) >= float(sys.argv[1]) else "")' "${2:-0}" 2>/dev/null || true
}

wait_up() { # instance since_epoch
  for _ in $(seq 300); do [ "$(up_value "$1" "$2")" = 1 ] && return 0; sleep 0.1; done
  log "target $1 not up after 30s"; tail -20 "$BASE/prometheus.log" >&2 || true
  return 1
}

cmd_start() {
  local t0; t0=$(now)
  install_pkgs
  mkdir -p "$BASE/data" "$BASE/targets"
  local targets=${PROM_LOCAL_TARGETS:-}
  local first=${targets%%,*}
  if pid_alive "$PROM_PID" prometheus; then
    [ -n "${PROM_LOCAL_TARGETS:-}" ] && { write_targets "$PROM_LOCAL_TARGETS"; wait_up "$first" 0; }
    log "already running on $LISTEN (pid $(cat "$PROM_PID"))"; return 0
  fi
  [ "${PROM_LOCAL_KEEP_DATA:-0}" = 1 ] || { rm -rf "$BASE/data"; mkdir -p "$BASE/data"; }
  write_targets "${PROM_LOCAL_TARGETS:-}"
  cat > "$BASE/prometheus.yml" <<EOF
global:
  scrape_interval: $INTERVAL
  scrape_timeout: $INTERVAL
  evaluation_interval: $INTERVAL
scrape_configs:
  - job_name: stroom
    metrics_path: /metrics
    file_sd_configs:
      - files: ["$BASE/targets/*.json"]
        refresh_interval: 5s
EOF
  local t1; t1=$(now)
  setsid prometheus \
    --config.file="$BASE/prometheus.yml" \
    --storage.tsdb.path="$BASE/data" \
    --storage.tsdb.retention.time=1d \
    --web.listen-address="$LISTEN" \
    --web.enable-lifecycle \
    >"$BASE/prometheus.log" 2>&1 < /dev/null & echo $! > "$PROM_PID"
  for _ in $(seq 300); do curl -fsS --max-time 1 "http://$LISTEN/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  if ! curl -fsS --max-time 1 "http://$LISTEN/-/ready" >/dev/null 2>&1; then
    log "prometheus not ready after 30s"; tail -20 "$BASE/prometheus.log" >&2 || true; return 1
  fi
  local tready; tready=$(elapsed "$t1")
  if [ -n "$first" ]; then
    wait_up "$first" "$t1"
    log "ready in ${tready}s on $LISTEN, up{instance=\"$first\"}==1 after $(elapsed "$t1")s (total incl. install $(elapsed "$t0")s)"
  else
    log "ready in ${tready}s on $LISTEN, no targets yet (set them with: $0 targets HOST:PORT) (total incl. install $(elapsed "$t0")s)"
  fi
}

cmd_targets() {
  [ -d "$BASE/targets" ] || { log "not started here ($BASE/targets missing): run $0 start first"; exit 1; }
  write_targets "${1:-}" "${@:2}"
  log "targets: $(cat "$TARGETS_FILE")"
}

cmd_stop() {
  stop_pidfile "$PROM_PID" prometheus 15
  log "stopped"
}

cmd_status() {
  if pid_alive "$PROM_PID" prometheus; then echo "prometheus pid $(cat "$PROM_PID") on $LISTEN"; else echo "prometheus not running"; fi
  echo "targets file $TARGETS_FILE: $(cat "$TARGETS_FILE" 2>/dev/null || echo missing)"
  curl -fsS --max-time 2 "http://$LISTEN/api/v1/query?query=up" 2>/dev/null || true; echo
}

case "${1:-start}" in
  start) cmd_start ;;
  targets) shift; cmd_targets "$@" ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|targets [HOST:PORT,...] [LABEL=VALUE...]|stop|status|restart" >&2; exit 2 ;;
esac
