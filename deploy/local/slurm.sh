#!/usr/bin/env bash
# slurm.sh — a real single-node Slurm (slurmctld + slurmd + munged) on loopback with 4 fake GPUs,
# for stroom's integration tests and demos on a Debian bookworm machine (run as root).
#
#   deploy/local/slurm.sh start     install (if needed), configure, start, wait until the node is idle
#   deploy/local/slurm.sh stop      cancel jobs, stop slurmd, slurmctld, munged (by PID files only)
#   deploy/local/slurm.sh status    print daemon PIDs, hooks, sinfo, squeue
#   deploy/local/slurm.sh restart
#
# Idempotent: `start` when everything is up with the same configuration reports and exits 0; with
# a changed configuration (other hooks, say) it restarts the daemons.
#
# By default the node's Prolog/Epilog are small wrappers that log one line to
# $SLURM_LOCAL_DIR/events.log and run this repository's deploy/slurm/prolog.sh / epilog.sh with
# STROOM_RUN_DIR=$SLURM_LOCAL_STROOM_RUN_DIR, so the integration test sees real prolog records.
#
# Env knobs:
#   SLURM_LOCAL_DIR             state/spool/logs/pids/hooks (default /tmp/slurm-local)
#   SLURM_LOCAL_NODENAME        node name (default: `hostname -s` if it resolves to 127.x, else localhost)
#   SLURM_LOCAL_GPUS            number of fake GPUs (default 4; 0 disables GRES)
#   SLURM_LOCAL_STROOM_RUN_DIR  STROOM_RUN_DIR of the stroom hooks (default /tmp/stroom-slurm-test/run)
#   SLURM_LOCAL_STROOM_COLLECTOR_URL / SLURM_LOCAL_STROOM_TOKEN_FILE
#                               passed to the epilog as STROOM_COLLECTOR_URL / STROOM_TOKEN_FILE
#   SLURM_LOCAL_PROLOG / SLURM_LOCAL_EPILOG            other node-side hooks (run by slurmd, as root)
#   SLURM_LOCAL_PROLOG_CTLD / SLURM_LOCAL_EPILOG_CTLD  controller-side hooks (default: log to events.log)
#   SLURM_LOCAL_KEEP_STATE=1    warm start (recover jobs/nodes); default cold start (slurmctld -c;
#                               the job id counter survives either way)
# All daemons listen on 127.0.0.1 only (CommunicationParameters=NoCtldInAddrAny,NoInAddrAny).
# Adapted from the project's tested recipe (shared/recipes/slurm-local.sh), see deploy/slurm/README.md.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE=${SLURM_LOCAL_DIR:-/tmp/slurm-local}
CONF_DIR=/etc/slurm                 # Debian's compiled-in SLURM_CONF location (clients need no env var)
NGPU=${SLURM_LOCAL_GPUS:-4}
STROOM_RUN=${SLURM_LOCAL_STROOM_RUN_DIR:-/tmp/stroom-slurm-test/run}
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=$BASE/slurmctld.pid
SLURMD_PID=$BASE/slurmd.pid

log() { printf '[slurm-local] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

node_name() {
  if [ -n "${SLURM_LOCAL_NODENAME:-}" ]; then echo "$SLURM_LOCAL_NODENAME"; return; fi
  local h; h=$(hostname -s)
  if getent ahostsv4 "$h" 2>/dev/null | awk '{print $1}' | grep -q '^127\.'; then echo "$h"; else echo localhost; fi
}

# Only ever signal the PID read from our own PID file, and only if its comm matches.
pid_alive() { # pidfile comm
  [ -s "$1" ] || return 1
  local p; p=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -r "/proc/$p/comm" ] && [ "$(cat "/proc/$p/comm")" = "$2" ]
}
stop_pidfile() { # pidfile comm [timeout_s]
  local f=$1 c=$2 t=${3:-10} p
  pid_alive "$f" "$c" || { rm -f "$f"; return 0; }
  p=$(cat "$f")                       # read first: slurmd/slurmctld delete their PID file on SIGTERM
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq $((t * 10))); do
    [ -r "/proc/$p/comm" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$c" ] || { rm -f "$f"; return 0; }
    sleep 0.1
  done
  log "$c (pid $p) ignored SIGTERM for ${t}s, sending SIGKILL"
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$f"
}

install_pkgs() {
  local need=()
  for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/sbin/munged; do
    [ -x "$b" ] || need=(slurmctld slurmd slurm-client munge)
  done
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]} (apt)"
  # Keep apt's maintainer scripts from starting the daemons with the stock config.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # Wait for a concurrent apt/dpkg instead of failing; refresh stale lists and retry once.
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  "${apt[@]}" install "${need[@]}" >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && "${apt[@]}" install "${need[@]}" >/dev/null; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# Writes stdin to $1 atomically: slurmd may be running a hook while `start` rewrites it.
put() { cat > "$1.tmp.$$" && chmod 755 "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

# Hooks are generated into $BASE/hooks (slurmd needs absolute paths it can execute as root).
write_hooks() {
  mkdir -p "$BASE/hooks"
  put "$BASE/hooks/stroom.env" <<EOF2
# settings of the stroom hooks on this local node (sourced by deploy/slurm/{prolog,epilog}.sh)
STROOM_RUN_DIR=$STROOM_RUN
${SLURM_LOCAL_STROOM_COLLECTOR_URL:+STROOM_COLLECTOR_URL=$SLURM_LOCAL_STROOM_COLLECTOR_URL}
${SLURM_LOCAL_STROOM_TOKEN_FILE:+STROOM_TOKEN_FILE=$SLURM_LOCAL_STROOM_TOKEN_FILE}
EOF2
  local kind
  for kind in prolog epilog; do
    put "$BASE/hooks/stroom-$kind.sh" <<EOF2
#!/bin/sh
# slurmd $kind (root, on the node; the prolog runs at allocation because PrologFlags=Alloc)
echo "\$(date +%s.%N) $kind node job=\$SLURM_JOB_ID uid=\$SLURM_JOB_UID gpus=\$SLURM_JOB_GPUS" >> "$BASE/events.log"
# Never fail: a failing hook drains the node (even if the repository moved away).
[ -r "$REPO/deploy/slurm/$kind.sh" ] && STROOM_ENV_FILE="$BASE/hooks/stroom.env" /bin/bash "$REPO/deploy/slurm/$kind.sh"
exit 0
EOF2
  done
  put "$BASE/hooks/prolog_ctld.sh" <<EOF2
#!/bin/sh
# slurmctld PrologSlurmctld (SlurmUser; no SLURM_JOB_GPUS here)
echo "\$(date +%s.%N) start ctld job=\$SLURM_JOB_ID name=\$SLURM_JOB_NAME user=\$SLURM_JOB_USER nodes=\$SLURM_JOB_NODELIST" >> "$BASE/events.log"
exit 0
EOF2
  put "$BASE/hooks/epilog_ctld.sh" <<EOF2
#!/bin/sh
echo "\$(date +%s.%N) end ctld job=\$SLURM_JOB_ID exit=\$SLURM_JOB_EXIT_CODE2" >> "$BASE/events.log"
exit 0
EOF2
  # The test (maybe not root) writes the GPU map here; the prolog (root) adds jobs/ below it.
  mkdir -p "$STROOM_RUN"
  if [ -n "${SUDO_UID:-}" ]; then chown "$SUDO_UID" "$STROOM_RUN"; fi
}

# Prints slurm.conf for node $1; gres.conf is written beside it by write_gres.
render_config() {
  local node=$1 hw sockets cores threads
  hw=$(slurmd -C | head -1)
  sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw")
  cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw")
  threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw")
  local cpus=$((sockets * cores * threads))
  local gres_node="" gres_types=""
  if [ "$NGPU" -gt 0 ]; then gres_node=" Gres=gpu:$NGPU"; gres_types="GresTypes=gpu"; fi
  cat <<EOF2
# generated by deploy/local/slurm.sh
ClusterName=local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/jobcomp.log
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
$gres_types
Prolog=${SLURM_LOCAL_PROLOG:-$BASE/hooks/stroom-prolog.sh}
Epilog=${SLURM_LOCAL_EPILOG:-$BASE/hooks/stroom-epilog.sh}
PrologSlurmctld=${SLURM_LOCAL_PROLOG_CTLD:-$BASE/hooks/prolog_ctld.sh}
EpilogSlurmctld=${SLURM_LOCAL_EPILOG_CTLD:-$BASE/hooks/epilog_ctld.sh}
PrologFlags=Alloc
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=1000$gres_node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF2
}

render_gres() {
  local node=$1
  [ "$NGPU" -gt 0 ] || return 0
  cat <<EOF2
AutoDetect=off
NodeName=$node Name=gpu File=$BASE/fakegpu/nvidia[0-$((NGPU - 1))]
EOF2
}

make_fake_gpus() {
  mkdir -p "$BASE"/{state,spool,log,fakegpu} "$CONF_DIR"
  # slurmd rejects plain files ("... is not a valid character or block device, fix your gres.conf")
  # and then sets no SLURM_JOB_GPUS/CUDA_VISIBLE_DEVICES. Character devices work; nothing opens them.
  local i
  for i in $(seq 0 $((NGPU - 1))); do
    [ -c "$BASE/fakegpu/nvidia$i" ] || { rm -f "$BASE/fakegpu/nvidia$i"; mknod "$BASE/fakegpu/nvidia$i" c 195 "$i"; }
  done
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi   # already usable
  install -d -o munge -g munge -m 0755 /run/munge
  [ -s /etc/munge/munge.key ] || { /usr/sbin/mungekey -c -f -k /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
  runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID"
  touch "$BASE/munged.ours"
  for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "munged did not come up"; return 1
}

node_ready() { # node registered (slurmd answered) and idle
  local node=$1 line
  line=$(timeout 3 scontrol -o show node "$node" 2>/dev/null) || return 1
  grep -q ' State=IDLE ' <<<"$line" || return 1
  # A warm start restores State=IDLE from the state file before slurmd registers; require registration.
  timeout 3 scontrol show slurmd >/dev/null 2>&1
}

healthy() {
  pid_alive "$CTLD_PID" slurmctld && pid_alive "$SLURMD_PID" slurmd && node_ready "$(node_name)"
}

cmd_start() {
  local t0; t0=$(now)
  mkdir -p "$BASE"
  install_pkgs
  local node; node=$(node_name)
  write_hooks
  local conf gres
  conf=$(render_config "$node")
  gres=$(render_gres "$node")
  if [ "$conf" = "$(cat "$CONF_DIR/slurm.conf" 2>/dev/null)" ] && [ "$gres" = "$(cat "$CONF_DIR/gres.conf" 2>/dev/null)" ] && healthy; then
    log "already running ($node idle, configuration unchanged)"; return 0
  fi
  cmd_stop quiet
  make_fake_gpus
  printf '%s\n' "$conf" > "$CONF_DIR/slurm.conf"
  if [ -n "$gres" ]; then printf '%s\n' "$gres" > "$CONF_DIR/gres.conf"; else rm -f "$CONF_DIR/gres.conf"; fi
  local t1; t1=$(now)
  start_munge
  local cflag=-c; [ "${SLURM_LOCAL_KEEP_STATE:-0}" = 1 ] && cflag=
  /usr/sbin/slurmctld $cflag
  /usr/sbin/slurmd -N "$node"
  for _ in $(seq 300); do node_ready "$node" && break; sleep 0.1; done
  if ! node_ready "$node"; then
    log "node $node not idle after 30s"; tail -20 "$BASE/log/slurmctld.log" "$BASE/log/slurmd.log" >&2; return 1
  fi
  log "node $node idle: daemons up in $(elapsed "$t1")s (total incl. install/config $(elapsed "$t0")s); stroom hooks write to $STROOM_RUN"
  timeout 3 sinfo
}

cmd_stop() {
  local quiet=${1:-}
  if pid_alive "$CTLD_PID" slurmctld; then
    # Cancel jobs so no slurmstepd/job processes outlive slurmd.
    local jobs; jobs=$(timeout 5 squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      timeout 5 scancel $jobs 2>/dev/null || true
      for _ in $(seq 100); do [ -z "$(timeout 3 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1; done
    fi
  fi
  stop_pidfile "$SLURMD_PID" slurmd 10 &          # in parallel: each takes ~1.5-2s to exit
  stop_pidfile "$CTLD_PID" slurmctld 10 &
  wait
  if [ -e "$BASE/munged.ours" ]; then stop_pidfile "$MUNGE_PID" munged 10; rm -f "$BASE/munged.ours"; fi
  [ -n "$quiet" ] || log "stopped"
}

cmd_status() {
  local x
  for x in "$CTLD_PID slurmctld" "$SLURMD_PID slurmd" "$MUNGE_PID munged"; do
    set -- $x; if pid_alive "$1" "$2"; then echo "$2 pid $(cat "$1")"; else echo "$2 not running"; fi
  done
  grep -E '^(Prolog|Epilog)=' "$CONF_DIR/slurm.conf" 2>/dev/null || true
  echo "stroom run dir: $STROOM_RUN"
  timeout 3 sinfo 2>/dev/null || true
  timeout 3 squeue 2>/dev/null || true
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
