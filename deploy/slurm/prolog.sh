#!/bin/bash
# stroom Slurm prolog: record which job holds which GPU, for the stroom agent on this node.
#
# Runs on the node as root (slurm.conf `Prolog=`; `PrologFlags=Alloc` recommended so it runs when
# the job is allocated rather than at its first step). For each GPU the job holds here it writes
#
#   ${STROOM_RUN_DIR:-/run/stroom}/jobs/<GPU-UUID>
#
# atomically (temporary file + mv), containing one line of six space-separated fields:
#
#   jobid uid user account start_ts_ms partition
#
# Fields never contain whitespace or control characters (replaced by `_`); an unknown field is
# `-`. start_ts_ms is this script's wall clock in ms since the Unix epoch. The epilog removes the
# files again. Slurm's GPU indices (SLURM_JOB_GPUS, else CUDA_VISIBLE_DEVICES) are turned into
# UUIDs once, here, using `${STROOM_RUN_DIR}/gpus` (lines `index minor uuid`, written by the agent
# at start) or, when that file is missing, one bounded nvidia-smi call.
#
# Settings (environment, or sourced from ${STROOM_ENV_FILE:-/etc/stroom/slurm.env}):
#   STROOM_RUN_DIR            default /run/stroom
#   STROOM_GRES_IDX_ORDER     minor (default) | index: how Slurm's GPU IDX numbers the GPUs
#                             (minor: the Nth GPU by /dev/nvidiaN minor number, as gres.conf
#                             File=/dev/nvidia[0-N] and AutoDetect=nvml give; index: nvidia-smi order)
#   STROOM_NVIDIA_SMI         default nvidia-smi
#   STROOM_HOOK_SYSLOG        1 (default): also log problems to syslog; 0: stderr only
#
# It ALWAYS exits 0: a prolog that fails drains the node. Problems go to stderr and syslog.
set -u

log() {
  printf 'stroom-prolog[%s]: %s\n' "${SLURM_JOB_ID:-?}" "$*" >&2
  if [ "${STROOM_HOOK_SYSLOG:-1}" = 1 ] && command -v logger >/dev/null 2>&1; then timeout 2 logger -t stroom-slurm -p daemon.warning -- "prolog job ${SLURM_JOB_ID:-?}: $*" >/dev/null 2>&1; fi
  return 0
}

# One record field: no whitespace/control characters, `-` when empty.
field() {
  local s=${1-}
  s=${s//[[:space:][:cntrl:]]/_}
  [ -n "$s" ] || s=-
  printf '%s' "$s"
}

# Prints `index minor uuid` lines, from the agent's map file or from nvidia-smi.
gpu_map() {
  local map=$1 line idx uuid bus minor info
  if [ -s "$map" ]; then
    grep -v '^[[:space:]]*#' "$map"
    return 0
  fi
  log "no GPU map at $map (is the agent running?); asking nvidia-smi"
  timeout 10 "${STROOM_NVIDIA_SMI:-nvidia-smi}" --query-gpu=index,uuid,pci.bus_id --format=csv,noheader 2>/dev/null |
    while IFS=', ' read -r idx uuid bus; do
      minor=-
      # /proc names the GPU by a 4-digit PCI domain; nvidia-smi prints 8 digits.
      info=/proc/driver/nvidia/gpus/$(printf '%s' "${bus: -12}" | tr 'A-F' 'a-f')/information
      if [ -r "$info" ]; then minor=$(sed -n 's/^Device Minor:[[:space:]]*\([0-9]*\).*/\1/p' "$info"); fi
      printf '%s %s %s\n' "$idx" "${minor:--}" "$uuid"
    done
}

# The map's UUIDs in Slurm IDX order, one per line.
uuids_in_idx_order() {
  local lines
  lines=$(awk 'NF >= 3 && $1 ~ /^[0-9]+$/' | sort -n -k1,1)
  if [ "${STROOM_GRES_IDX_ORDER:-minor}" = minor ] && ! awk '$2 !~ /^[0-9]+$/ { bad = 1 } END { exit bad }' <<<"$lines"; then
    log "GPU map lacks minor numbers; using index order"
    awk '{ print $3 }' <<<"$lines"
  elif [ "${STROOM_GRES_IDX_ORDER:-minor}" = minor ]; then
    sort -n -k2,2 <<<"$lines" | awk '{ print $3 }'
  else
    awk '{ print $3 }' <<<"$lines"
  fi
}

main() {
  local env_file=${STROOM_ENV_FILE:-/etc/stroom/slurm.env}
  # shellcheck disable=SC1090
  if [ -r "$env_file" ]; then . "$env_file"; fi
  local run_dir=${STROOM_RUN_DIR:-/run/stroom}
  local jobs_dir=$run_dir/jobs
  local job=${SLURM_JOB_ID:-}
  if [ -z "$job" ]; then log "no SLURM_JOB_ID; nothing recorded"; return 0; fi
  local list=${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-}}
  [ -n "$list" ] || return 0 # CPU-only job: the agent learns of it from squeue

  local account=${SLURM_JOB_ACCOUNT:-} partition=${SLURM_JOB_PARTITION:-} info
  if [ -z "$account" ] || [ -z "$partition" ]; then
    # Some releases, and any cluster without accounting storage (22.05 here), leave these out
    # of the prolog environment. Ask once, bounded: Slurm clients retry for minutes when the
    # controller is slow.
    info=$(timeout 5 scontrol -o show job "$job" 2>/dev/null) || info=
    [ -n "$account" ] || account=$(sed -n 's/.* Account=\([^ ]*\).*/\1/p' <<<"$info")
    [ -n "$partition" ] || partition=$(sed -n 's/.* Partition=\([^ ]*\).*/\1/p' <<<"$info")
    [ "$account" != "(null)" ] || account=
  fi

  local -a order=()
  mapfile -t order < <(gpu_map "$run_dir/gpus" | uuids_in_idx_order)

  local start_ts line item i uuid tmp wrote=0
  start_ts=$(date +%s%3N)
  line="$(field "$job") $(field "${SLURM_JOB_UID:-}") $(field "${SLURM_JOB_USER:-}") $(field "$account") $(field "$start_ts") $(field "$partition")"
  mkdir -p -m 0755 "$jobs_dir" || { log "cannot create $jobs_dir"; return 0; }
  local -a uuids=()
  IFS=',' read -r -a items <<<"$list"
  for item in "${items[@]}"; do
    item=${item//[[:space:]]/}
    if [[ $item == GPU-* || $item == MIG-* ]]; then
      uuids+=("$item") # sites that hand out UUIDs already
    elif [[ $item =~ ^[0-9]+$ ]]; then
      uuids+=("${order[10#$item]:-?$item}")
    elif [[ $item =~ ^([0-9]+)-([0-9]+)$ ]]; then
      for ((i = 10#${BASH_REMATCH[1]}; i <= 10#${BASH_REMATCH[2]}; i++)); do uuids+=("${order[i]:-?$i}"); done
    else
      log "ignoring GPU entry '$item'"
    fi
  done
  for uuid in "${uuids[@]}"; do
    case $uuid in
      \?*) log "GPU IDX ${uuid#\?} is not in the GPU map (${#order[@]} GPUs known)"; continue ;;
      *[!A-Za-z0-9-]* | '') log "refusing odd GPU id '$uuid'"; continue ;;
    esac
    tmp=$(mktemp "$jobs_dir/.$uuid.XXXXXX") || { log "cannot write in $jobs_dir"; continue; }
    if printf '%s\n' "$line" >"$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$jobs_dir/$uuid"; then
      wrote=$((wrote + 1))
    else
      log "cannot write record for $uuid"
      rm -f "$tmp"
    fi
  done
  [ "$wrote" -gt 0 ] || log "no GPU record written (SLURM_JOB_GPUS='${SLURM_JOB_GPUS:-}' CUDA_VISIBLE_DEVICES='${CUDA_VISIBLE_DEVICES:-}')"
  return 0
}

# A subshell: whatever happens inside (even `set -u` tripping in the sourced settings), the
# prolog itself still exits 0.
(main) || log "prolog failed with status $?"
exit 0
