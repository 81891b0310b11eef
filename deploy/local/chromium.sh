#!/usr/bin/env bash
# chromium.sh — Debian's `chromium` for stroom's browser tests and screenshots (driven by
# playwright-core with executablePath /usr/bin/chromium; never a browser downloaded by a tool).
# Run as root: apt installs the package when it is missing.
#
#   deploy/local/chromium.sh start     install if missing, then check it starts headless (idempotent)
#   deploy/local/chromium.sh status    path and version
#   deploy/local/chromium.sh stop      nothing to stop (tests start and stop their own browser)
#
# There is no daemon: each test launches chromium with its own empty profile and the flags in
# test/browser/chromium.ts (--headless --no-sandbox --disable-gpu --disable-background-networking ...).
set -euo pipefail

BIN=${CHROMIUM:-/usr/bin/chromium}
log() { printf '[chromium-local] %s\n' "$*" >&2; }

install_pkg() {
  [ -x "$BIN" ] && return 0
  log "installing chromium (apt)"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  # Refresh stale or missing package lists once if the first install fails.
  "${apt[@]}" install chromium >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && "${apt[@]}" install chromium >/dev/null; }
  [ -x "$BIN" ] || { log "$BIN not found after installing chromium"; return 1; }
}

version() {
  # The Debian launcher prints a harmless shell warning from its /dev/shm size check; drop it.
  "$BIN" --version 2>/dev/null | head -1
}

cmd_start() {
  install_pkg
  local v; v=$(version)
  [ -n "$v" ] || { log "$BIN --version printed nothing"; return 1; }
  # One headless run against about:blank proves the binary starts with the tests' flags.
  local profile; profile=$(mktemp -d /tmp/stroom-chromium-check.XXXXXX)
  if ! timeout 60 "$BIN" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$profile" --dump-dom about:blank >/dev/null 2>"$profile.log"; then
    log "headless chromium did not start:"; tail -20 "$profile.log" >&2; rm -rf "$profile" "$profile.log"; return 1
  fi
  rm -rf "$profile" "$profile.log"
  log "$v at $BIN: starts headless"
}

case "${1:-}" in
  start|restart) cmd_start ;;
  stop) log "nothing to stop" ;;
  status) if [ -x "$BIN" ]; then echo "$(version) at $BIN"; else echo "chromium not installed ($BIN missing)"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
