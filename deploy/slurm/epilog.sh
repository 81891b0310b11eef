#!/bin/bash
# stroom Slurm epilog: remove the job's GPU records and tell the stroom collector it ended.
#
# Runs on the node as root (slurm.conf `Epilog=`). Removes every
# ${STROOM_RUN_DIR:-/run/stroom}/jobs/<GPU-UUID> whose first field is SLURM_JOB_ID (format in
# prolog.sh), then, when STROOM_COLLECTOR_URL is set, POSTs
#   ${STROOM_COLLECTOR_URL}/api/v1/jobs/<jobid>/end   {"endTs":<ms since epoch>,"node":"<node>"}
# with `Authorization: Bearer <token from ${STROOM_TOKEN_FILE:-/etc/stroom/agent.token}>`,
# detached and bounded (timeout 3 s), so a slow collector never holds up the node.
#
# Settings (environment, or sourced from ${STROOM_ENV_FILE:-/etc/stroom/slurm.env}):
#   STROOM_RUN_DIR, STROOM_COLLECTOR_URL, STROOM_TOKEN_FILE,
#   STROOM_NODE (default SLURMD_NODENAME, else `hostname -s`), STROOM_HOOK_SYSLOG (1: also syslog)
#
# It ALWAYS exits 0: a failing epilog drains the node. Problems go to stderr and syslog.
set -u

log() {
  printf 'stroom-epilog[%s]: %s\n' "${SLURM_JOB_ID:-?}" "$*" >&2
  if [ "${STROOM_HOOK_SYSLOG:-1}" = 1 ] && command -v logger >/dev/null 2>&1; then timeout 2 logger -t stroom-slurm -p daemon.warning -- "epilog job ${SLURM_JOB_ID:-?}: $*" >/dev/null 2>&1; fi
  return 0
}

notify() {
  local job=$1 url=${STROOM_COLLECTOR_URL:-} token_file=${STROOM_TOKEN_FILE:-/etc/stroom/agent.token} token= node body end_ts
  [ -n "$url" ] || return 0
  command -v curl >/dev/null 2>&1 || { log "curl not found; collector not told"; return 0; }
  if [ -r "$token_file" ]; then token=$(tr -d '[:space:]' <"$token_file"); else log "no token at $token_file"; fi
  node=${STROOM_NODE:-${SLURMD_NODENAME:-$(hostname -s 2>/dev/null)}}
  node=${node//[^A-Za-z0-9._-]/_}
  end_ts=$(date +%s%3N)
  body="{\"endTs\":$end_ts,\"node\":\"$node\"}"
  # The token goes in through curl's config on stdin, not argv, where `ps` would show it.
  local -a cmd=(timeout 3 curl -fsS -m 2 -X POST -H 'Content-Type: application/json' --config - --data "$body" "${url%/}/api/v1/jobs/$job/end")
  local cfg=
  [ -z "$token" ] || cfg="header = \"Authorization: Bearer $token\""
  if command -v setsid >/dev/null 2>&1; then
    # Detached: slurmd kills the hook's process group when the hook exits.
    printf '%s\n' "$cfg" | setsid "${cmd[@]}" >/dev/null 2>&1 &
  else
    printf '%s\n' "$cfg" | "${cmd[@]}" >/dev/null 2>&1 || log "collector not told (curl failed)"
  fi
  return 0
}

main() {
  local env_file=${STROOM_ENV_FILE:-/etc/stroom/slurm.env}
  # shellcheck disable=SC1090
  if [ -r "$env_file" ]; then . "$env_file"; fi
  local jobs_dir=${STROOM_RUN_DIR:-/run/stroom}/jobs job=${SLURM_JOB_ID:-} f id rest
  if [ -z "$job" ]; then log "no SLURM_JOB_ID; nothing removed"; return 0; fi
  if [ -d "$jobs_dir" ]; then
    for f in "$jobs_dir"/*; do
      [ -f "$f" ] || continue
      id=
      read -r id rest <"$f" 2>/dev/null || true
      [ "$id" = "$job" ] || continue
      rm -f "$f" || log "cannot remove $f"
    done
    # Temporary files of a prolog that was killed mid-write.
    find "$jobs_dir" -maxdepth 1 -name '.*' -type f -mmin +60 -delete 2>/dev/null
  fi
  notify "$job"
  return 0
}

(main) || log "epilog failed with status $?"
exit 0
