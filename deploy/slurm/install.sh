#!/usr/bin/env bash
# install.sh — install the stroom Slurm prolog and epilog on this node, and print what to add
# to slurm.conf (it never edits slurm.conf: that file is the site's, and the same on every node).
#
#   sudo deploy/slurm/install.sh                 # into /etc/slurm, settings in /etc/stroom/slurm.env
#   deploy/slurm/install.sh --dest DIR --env-file FILE   # elsewhere (a test, an image build)
#
# Copies prolog.sh and epilog.sh as DEST/stroom-prolog.sh and DEST/stroom-epilog.sh (mode 0755),
# writes a commented settings file when there is none (never overwrites one), then prints the
# slurm.conf lines. Run it on every node (or bake it into the node image).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST=/etc/slurm
ENV_FILE=/etc/stroom/slurm.env

while [ $# -gt 0 ]; do
  case $1 in
    --dest) DEST=${2:?--dest needs a directory}; shift 2 ;;
    --env-file) ENV_FILE=${2:?--env-file needs a file}; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

install -d -m 0755 "$DEST"
install -m 0755 "$HERE/prolog.sh" "$DEST/stroom-prolog.sh"
install -m 0755 "$HERE/epilog.sh" "$DEST/stroom-epilog.sh"
echo "installed $DEST/stroom-prolog.sh and $DEST/stroom-epilog.sh"

if [ -e "$ENV_FILE" ]; then
  echo "kept $ENV_FILE (already there)"
else
  install -d -m 0755 "$(dirname "$ENV_FILE")"
  ( umask 077; cat >"$ENV_FILE" <<'ENV'
# stroom Slurm hooks (sourced by stroom-prolog.sh and stroom-epilog.sh as root); see
# deploy/slurm/README.md for every setting.
STROOM_RUN_DIR=/run/stroom                  # must match the agent's run_dir
#STROOM_COLLECTOR_URL=https://stroom.example.org
STROOM_TOKEN_FILE=/etc/stroom/agent.token   # the node's agent token (mode 0640 root:stroom)
STROOM_GRES_IDX_ORDER=minor                 # or index; must match the agent
#STROOM_JOB_SUMMARY=1                       # 0: no summary line in job output / AdminComment
#STROOM_CLI=/usr/local/bin/stroom            # default: stroom on PATH
#STROOM_API_TOKEN_FILE=/etc/stroom/api.token # if the collector API needs a token to read jobs
ENV
  )
  echo "wrote $ENV_FILE (set STROOM_COLLECTOR_URL there)"
fi

if [ "$ENV_FILE" != /etc/stroom/slurm.env ]; then
  # The hooks read /etc/stroom/slurm.env unless told otherwise.
  env_line="(the hooks read /etc/stroom/slurm.env; to use $ENV_FILE, call them from a wrapper that sets STROOM_ENV_FILE=$ENV_FILE)"
else
  env_line=""
fi
cat <<CONF

Add to slurm.conf on every node and the controller (then \`scontrol reconfigure\`):

Prolog=$DEST/stroom-prolog.sh
Epilog=$DEST/stroom-epilog.sh
PrologFlags=Alloc

If the site already has a Prolog or Epilog, call ours from it instead:
  $DEST/stroom-prolog.sh || true
  $DEST/stroom-epilog.sh || true
$env_line
CONF
