#!/usr/bin/env bash
# influxdb.sh — a real InfluxDB 1.x (Debian's `influxdb` package, 1.6.7 on bookworm) on loopback,
# for stroom's InfluxStore tests, its benchmark and demos. Run as root (apt installs it if missing).
#
#   deploy/local/influxdb.sh start     install (if needed), write config, start influxd, wait for /ping 204
#   deploy/local/influxdb.sh stop      stop influxd (by its PID file only)
#   deploy/local/influxdb.sh status    PID, /ping answer, version
#   deploy/local/influxdb.sh restart
#
# Idempotent: `start` when influxd already answers on the port reports and exits 0.
# Every listener is bound to 127.0.0.1 (HTTP API, backup/restore RPC, and the disabled
# graphite/collectd/opentsdb/udp inputs), and usage reporting is off: Debian's build reads
# `reporting-enabled` (default false), upstream's key is `reporting-disabled`; both are set, the
# binary ignores the one it does not know.
#
# Env knobs:
#   INFLUX_LOCAL_DIR        config, data, wal, meta, log, pid (default /tmp/influxdb-local)
#   INFLUX_LOCAL_PORT       HTTP API port on 127.0.0.1 (default 8086); tests read INFLUX_URL
#                           (default http://127.0.0.1:8086)
#   INFLUX_LOCAL_RPC_PORT   backup/restore RPC port on 127.0.0.1 (default 8088)
#   INFLUX_LOCAL_KEEP_DATA=1  keep databases from the previous run (default: wiped at each start)
# Adapted from the project's tested recipe (shared/recipes/influxdb-local.sh).
set -euo pipefail

BASE=${INFLUX_LOCAL_DIR:-/tmp/influxdb-local}
PORT=${INFLUX_LOCAL_PORT:-8086}
RPC_PORT=${INFLUX_LOCAL_RPC_PORT:-8088}
HTTP=127.0.0.1:$PORT
PIDF=$BASE/influxd.pid

log() { printf '[influxdb-local] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

# Only ever signal the PID read from our own PID file, and only if it is an influxd.
pid_alive() {
  [ -s "$PIDF" ] || return 1
  local p; p=$(cat "$PIDF" 2>/dev/null) || return 1
  [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = influxd ]
}
ping_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$HTTP/ping")" = 204 ]; }

install_pkgs() {
  command -v influxd >/dev/null && return 0
  log "installing influxdb (apt)"
  local made_policy=0
  # Keep the package's maintainer scripts from starting influxd with the stock config (which
  # listens on every interface).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # Wait for a concurrent apt/dpkg instead of failing; refresh stale/missing lists and retry once.
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  "${apt[@]}" install influxdb >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && "${apt[@]}" install influxdb >/dev/null; }
  if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  command -v influxd >/dev/null || { log "influxd not found after installing influxdb"; return 1; }
}

write_config() {
  cat > "$BASE/influxdb.conf" <<EOF
# Written by stroom deploy/local/influxdb.sh; rewritten at every start.
# Debian's influxd reads "reporting-enabled" (default false); upstream's key is
# "reporting-disabled". Both are set; the build ignores the key it does not know.
reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:$RPC_PORT"

[meta]
  dir = "$BASE/meta"

[data]
  dir = "$BASE/data"
  wal-dir = "$BASE/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "$HTTP"
  auth-enabled = false
  log-enabled = false
  # InfluxStore loads its books with plain (unchunked) queries at open: never truncate them.
  max-row-limit = 0

[ifql]
  enabled = false
  bind-address = "127.0.0.1:8082"

[[graphite]]
  enabled = false
  bind-address = "127.0.0.1:2003"

[[collectd]]
  enabled = false
  bind-address = "127.0.0.1:25826"

[[opentsdb]]
  enabled = false
  bind-address = "127.0.0.1:4242"

[[udp]]
  enabled = false
  bind-address = "127.0.0.1:8089"
EOF
}

cmd_start() {
  local t0; t0=$(now)
  install_pkgs
  if pid_alive && ping_ok; then log "already running on $HTTP (pid $(cat "$PIDF"))"; return 0; fi
  if ping_ok; then log "something else answers on http://$HTTP/ping; not ours, not touching it"; return 1; fi
  cmd_stop quiet
  [ "${INFLUX_LOCAL_KEEP_DATA:-0}" = 1 ] || rm -rf "$BASE/meta" "$BASE/data" "$BASE/wal"
  mkdir -p "$BASE"/{meta,data,wal}
  write_config
  local t1; t1=$(now)
  # influxd runs in the foreground; setsid detaches it from this shell's session and signals.
  setsid influxd run -config "$BASE/influxdb.conf" -pidfile "$PIDF" >"$BASE/influxd.log" 2>&1 < /dev/null &
  for _ in $(seq 300); do ping_ok && break; sleep 0.1; done
  if ! ping_ok; then log "no 204 from http://$HTTP/ping after 30s"; tail -20 "$BASE/influxd.log" >&2; return 1; fi
  log "influxd pid $(cat "$PIDF" 2>/dev/null || echo '?') on http://$HTTP: /ping 204 after $(elapsed "$t1")s (total incl. install $(elapsed "$t0")s)"
}

cmd_stop() {
  if pid_alive; then
    local p; p=$(cat "$PIDF")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 150); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = influxd ] || break; sleep 0.1; done
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = influxd ]; then kill -KILL "$p" 2>/dev/null || true; fi
  fi
  rm -f "$PIDF"
  [ -n "${1:-}" ] || log "stopped"
}

cmd_status() {
  if pid_alive; then echo "influxd pid $(cat "$PIDF") (config $BASE/influxdb.conf)"; else echo "influxd not running (no live PID in $PIDF)"; fi
  curl -sI --max-time 2 "http://$HTTP/ping" | grep -Ei '^(HTTP|X-Influxdb-Version)' || echo "no answer on http://$HTTP/ping"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
