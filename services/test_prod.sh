#!/usr/bin/env bash
# `make test-prod`: a fresh PostgreSQL and object store with throw-away secrets, the tests marked
# `prod`, then both servers stopped (whatever the outcome).
set -euo pipefail
cd "$(dirname "$0")/.."
export PG_DIR=.services/postgres-test PGHOST=127.0.0.1 PGPORT=${PGPORT:-5433} PGUSER=customs
export PGPASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
PGPASSWORD=$(.venv/bin/python -c "import secrets; print(secrets.token_hex(16))")
AWS_ACCESS_KEY_ID=$(.venv/bin/python -c "import secrets; print('AK' + secrets.token_hex(9).upper())")
AWS_SECRET_ACCESS_KEY=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(30))")
export S3_PORT=${S3_PORT:-9100} CUSTOMS_S3_ENDPOINT="http://127.0.0.1:${S3_PORT:-9100}" AWS_DEFAULT_REGION=us-east-1
services/postgres.sh down >/dev/null 2>&1 || true
rm -rf "$PG_DIR"
trap 'services/postgres.sh down; services/object_store.sh down' EXIT
services/postgres.sh up
services/object_store.sh up
.venv/bin/pytest -q -m prod "$@"
