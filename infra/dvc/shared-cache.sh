#!/usr/bin/env bash
# Several users on one machine (or an NFS mount): one DVC cache for everybody, so a dataset or a
# trained model is stored once and each checkout links to it instead of copying.
# All users must be in the group that owns the cache directory ($DVC_GROUP).
set -euo pipefail
: "${DVC_SHARED_CACHE:=/shared/dvc-cache/ucgan}"
: "${DVC_GROUP:=ucgan}"
if [[ ! -d "$DVC_SHARED_CACHE" ]]; then
  mkdir -p "$DVC_SHARED_CACHE"
  chgrp "$DVC_GROUP" "$DVC_SHARED_CACHE"
  chmod 2775 "$DVC_SHARED_CACHE"            # setgid: new entries keep the group
fi
dvc cache dir "$DVC_SHARED_CACHE"            # written to .dvc/config: commit it if every clone uses it
dvc config cache.shared group                # cache dirs 2775, files 0444 (read-only, group-readable)
dvc config cache.type "reflink,hardlink,symlink,copy"   # link, never copy, when the filesystem allows
# Outputs are now read-only links into the cache: `dvc unprotect <path>` before editing one by hand.
# An existing private cache is not moved: `dvc checkout --relink` (or `dvc pull`) repopulates.
dvc checkout --relink
