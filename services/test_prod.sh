#!/usr/bin/env bash
# `make test-prod`: a fresh PostgreSQL and object store with throw-away secrets, the tests marked
# `prod`, then both servers stopped (whatever the outcome).
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own folders and ports, so servers started by hand (make postgres-up, object-store-up) are untouched.
export PG_DIR=.services/postgres-test S3_DIR=.services/s3-test PGHOST=127.0.0.1 PGPORT=${TEST_PGPORT:-5434} PGUSER=customs
export PGPASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
PGPASSWORD=$(.venv/bin/python -c "import secrets; print(secrets.token_hex(16))")
AWS_ACCESS_KEY_ID=$(.venv/bin/python -c "import secrets; print('AK' + secrets.token_hex(9).upper())")
AWS_SECRET_ACCESS_KEY=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(30))")
export S3_PORT=${TEST_S3_PORT:-9101} AWS_DEFAULT_REGION=us-east-1
export CUSTOMS_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
services/postgres.sh down >/dev/null 2>&1 || true
rm -rf "$PG_DIR"
trap 'services/postgres.sh down || true; services/object_store.sh down || true' EXIT
services/postgres.sh up
services/object_store.sh up
.venv/bin/pytest -q -m prod "$@"
