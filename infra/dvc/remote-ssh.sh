#!/usr/bin/env bash
# The team's DVC remote on a storage host reachable over SSH (no object store needed).
# Needs: pip install "dvc[ssh]"; an SSH key authorised for the storage account.
set -euo pipefail
: "${DVC_SSH_URL:=ssh://dvc@storage.internal/srv/dvc/ucgan}"
: "${DVC_SSH_KEY:=$HOME/.ssh/id_ed25519}"
dvc remote add --force --default team "$DVC_SSH_URL"
dvc remote modify --local team keyfile "$DVC_SSH_KEY"   # per user, so --local (git-ignored)
dvc remote list
echo "now: git add .dvc/config && git commit -m 'DVC remote: team'; dvc push --run-cache"
