#!/usr/bin/env bash
# The team's DVC remote on S3 or MinIO (the dvc-remote bucket of infra/compose.yaml).
# Run once in the repository root; commit .dvc/config. Credentials go to .dvc/config.local
# (git-ignored) or come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment.
# Needs the S3 plugin: pip install "dvc[s3]" (the runner image has it).
set -euo pipefail
: "${DVC_S3_URL:=s3://dvc-remote/ucgan}"          # bucket/prefix
: "${DVC_S3_ENDPOINT:=http://minio.internal:9000}" # omit for AWS S3 (unset it and drop the line below)
dvc remote add --force --default team "$DVC_S3_URL"
dvc remote modify team endpointurl "$DVC_S3_ENDPOINT"
if [[ -n "${MINIO_ACCESS_KEY:-}" && -n "${MINIO_SECRET_KEY:-}" ]]; then
  dvc remote modify --local team access_key_id "$MINIO_ACCESS_KEY"
  dvc remote modify --local team secret_access_key "$MINIO_SECRET_KEY"
fi
dvc remote list
echo "now: git add .dvc/config && git commit -m 'DVC remote: team'; dvc push --run-cache"
