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
#   STROOM_NODE (default SLURMD_NODENAME, else `hostname -s`), STROOM_HOOK_SYSLOG (1: also syslog),
#   STROOM_JOB_SUMMARY (1, default: job summary; 0: none), STROOM_CLI, STROOM_API_TOKEN_FILE
#
# Job summary (STROOM_JOB_SUMMARY=1, the default, when STROOM_COLLECTOR_URL is set): the end notice
# is sent first, bounded but not detached, so the collector has closed the job; then, on the job's
# batch host only, `stroom job <id> --summary-line` (bounded, timeout 8 s) fetches one line, which
#   - is appended to the job's StdOut file (from `scontrol show job`), written AS THE JOB'S USER
#     (setpriv), so a user-made symlink can never make root write elsewhere;
#   - becomes the job's AdminComment (`scontrol update`, allowed to root/SlurmUser, and only while
#     the job is still COMPLETING, i.e. during the epilog: a finished job refuses updates).
# The stroom command is STROOM_CLI (may be "node /opt/stroom/cli/dist/src/main.js"), else `stroom`
# on PATH, else the CLI built in the checkout this script lives in. STROOM_API_TOKEN_FILE holds a
# token the collector API accepts for reading jobs (an operator token), when its API asks for one.
#
# It ALWAYS exits 0: a failing epilog drains the node. Problems go to stderr and syslog.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" 2>/dev/null && pwd)

log() {
  printf 'stroom-epilog[%s]: %s\n' "${SLURM_JOB_ID:-?}" "$*" >&2
  if [ "${STROOM_HOOK_SYSLOG:-1}" = 1 ] && command -v logger >/dev/null 2>&1; then timeout 2 logger -t stroom-slurm -p daemon.warning -- "epilog job ${SLURM_JOB_ID:-?}: $*" >/dev/null 2>&1; fi
  return 0
}

# notify JOB [wait]: with `wait`, bounded but not detached (the summary needs the end recorded),
# and status 1 when the collector was not told.
notify() {
  local job=$1 mode=${2:-detach} url=${STROOM_COLLECTOR_URL:-} token_file=${STROOM_TOKEN_FILE:-/etc/stroom/agent.token} token= node body end_ts
  [ -n "$url" ] || return 0
  command -v curl >/dev/null 2>&1 || { log "curl not found; collector not told"; return 1; }
  if [ -r "$token_file" ]; then token=$(tr -d '[:space:]' <"$token_file"); else log "no token at $token_file"; fi
  node=${STROOM_NODE:-${SLURMD_NODENAME:-$(hostname -s 2>/dev/null)}}
  node=${node//[^A-Za-z0-9._-]/_}
  end_ts=$(date +%s%3N)
  body="{\"endTs\":$end_ts,\"node\":\"$node\"}"
  # The token goes in through curl's config on stdin, not argv, where `ps` would show it.
  local -a cmd=(timeout 3 curl -fsS -m 2 -X POST -H 'Content-Type: application/json' --config - --data "$body" "${url%/}/api/v1/jobs/$job/end")
  local cfg=
  [ -z "$token" ] || cfg="header = \"Authorization: Bearer $token\""
  if [ "$mode" = wait ]; then
    # Status 1 when the collector was not told: the summary is then skipped, not waited for.
    printf '%s\n' "$cfg" | "${cmd[@]}" >/dev/null 2>&1 || { log "collector not told (curl failed); no job summary"; return 1; }
  elif command -v setsid >/dev/null 2>&1; then
    # Detached: slurmd kills the hook's process group when the hook exits.
    printf '%s\n' "$cfg" | setsid "${cmd[@]}" >/dev/null 2>&1 &
  else
    printf '%s\n' "$cfg" | "${cmd[@]}" >/dev/null 2>&1 || log "collector not told (curl failed)"
  fi
  return 0
}

# The value of KEY in `scontrol -o show job` output (values without spaces only).
field() { # text key
  local re="(^| )$2=([^ ]*)"
  [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[2]}"
}

# Append LINE to FILE as uid:gid, never as root: the path is the user's to choose.
append_as_user() { # uid gid file line
  local script='[ -f "$2" ] && printf "%s\n" "$1" >>"$2"'
  command -v setpriv >/dev/null 2>&1 || { log "setpriv not found; summary not written to $3"; return 0; }
  setpriv --reuid="$1" --regid="$2" --init-groups -- /bin/sh -c "$script" sh "$4" "$3" 2>/dev/null ||
    setpriv --reuid="$1" --regid="$2" --clear-groups -- /bin/sh -c "$script" sh "$4" "$3" ||
    log "cannot append the summary to $3 as uid $1"
  return 0
}

summary() {
  local job=$1 info node first out uid gid line admin
  local -a cli
  if [ -n "${STROOM_CLI:-}" ]; then
    read -r -a cli <<<"$STROOM_CLI"
  elif command -v stroom >/dev/null 2>&1; then
    cli=(stroom)
  elif [ -r "$HERE/../../cli/dist/src/main.js" ] && command -v node >/dev/null 2>&1; then
    cli=(node "$HERE/../../cli/dist/src/main.js")
  else
    log "no stroom command (set STROOM_CLI); no job summary"; return 0
  fi
  info=$(SLURM_TIME_FORMAT=standard timeout 5 scontrol -o show job "$job" 2>/dev/null) || { log "scontrol show job $job failed; no job summary"; return 0; }
  # The epilog runs on every node of the job; the batch host (else the first node) writes.
  node=${STROOM_NODE:-${SLURMD_NODENAME:-$(hostname -s 2>/dev/null)}}
  first=$(field "$info" BatchHost)
  if [ -z "$first" ] || [ "$first" = "(null)" ]; then
    first=$(timeout 5 scontrol show hostnames "$(field "$info" NodeList)" 2>/dev/null | head -n 1)
  fi
  [ "$first" = "$node" ] || return 0
  local -a args=(job "$job" --collector "${STROOM_COLLECTOR_URL%/}" --summary-line --timeout-ms 5000)
  if [ -n "${STROOM_API_TOKEN_FILE:-}" ]; then args+=(--token-file "$STROOM_API_TOKEN_FILE"); fi
  line=$(timeout 8 "${cli[@]}" "${args[@]}" 2>&1 | head -n 1)
  case $line in
    stroom:\ job\ *) ;;
    *) log "no job summary: ${line:-stroom job gave no output}"; return 0 ;;
  esac
  out=$(field "$info" StdOut)
  uid=${SLURM_JOB_UID:-$(field "$info" UserId | sed -n 's/.*(\([0-9]*\))$/\1/p')}
  gid=${SLURM_JOB_GID:-$(field "$info" GroupId | sed -n 's/.*(\([0-9]*\))$/\1/p')}
  if [ -n "$out" ] && [ "${out#/}" != "$out" ] && [ "$out" != /dev/null ] && [ -n "$uid" ] && [ -n "$gid" ]; then
    append_as_user "$uid" "$gid" "$out" "$line"
  fi
  # Keep what else the site put in AdminComment; replace an earlier stroom line.
  admin=$(timeout 5 scontrol show job "$job" 2>/dev/null | sed -n 's/^ *AdminComment=//p' | head -n 1)
  case $admin in
    '' | stroom:*) admin=$line ;;
    *"; stroom: "*) admin="${admin%%; stroom: *}; $line" ;;
    *) admin="$admin; $line" ;;
  esac
  admin_comment "$job" "$admin"
  return 0
}

# slurmctld refuses to update a job once it has finished, and a job in its epilog has (Slurm
# 22.05: "Job has already finished"); releases that allow it take `scontrol update`. Otherwise the
# accounting database keeps AdminComment editable after the end (sacctmgr(1): "the only fields ...
# that can be modified after job completion"), where there is one (slurmdbd). That update runs
# detached and after STROOM_ADMIN_COMMENT_DELAY_S (10 s), so the job's own completion record,
# which carries the (empty) AdminComment slurmctld holds, reaches the database first.
admin_comment() { # job text
  local job=$1 text=$2 err storage
  err=$(timeout 5 scontrol update "JobId=$job" "AdminComment=$text" 2>&1) && return 0
  storage=$(timeout 5 scontrol show config 2>/dev/null | sed -n 's/^AccountingStorageType *= *//p')
  if [ "$storage" = accounting_storage/slurmdbd ] && command -v sacctmgr >/dev/null 2>&1; then
    local -a cmd=(timeout 15 sacctmgr -i update job where "JobID=$job" set "AdminComment=$text")
    # shellcheck disable=SC2016
    setsid /bin/sh -c 'sleep "$1"; j=$2; shift 2; "$@" >/dev/null 2>&1 || logger -t stroom-slurm -p daemon.warning "epilog: sacctmgr could not set AdminComment of job $j" 2>/dev/null' sh "${STROOM_ADMIN_COMMENT_DELAY_S:-10}" "$job" "${cmd[@]}" >/dev/null 2>&1 &
    return 0
  fi
  log "AdminComment of job $job not set: slurmctld said \"${err:-nothing}\" and there is no accounting database (AccountingStorageType=${storage:-?}) to hold it after the job's end"
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
  if [ -n "${STROOM_COLLECTOR_URL:-}" ] && [ "${STROOM_JOB_SUMMARY:-1}" = 1 ]; then
    if notify "$job" wait; then summary "$job"; fi
  else
    notify "$job"
  fi
  return 0
}

(main) || log "epilog failed with status $?"
exit 0
