#!/usr/bin/env bash
# An S3-compatible server on 127.0.0.1 for tests and demos: moto's standalone server (in-memory;
# point CUSTOMS_S3_ENDPOINT at a real store in production). Its log and pid file in .services/s3.
#   services/object_store.sh up | down
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${S3_DIR:-.services/s3}
PORT=${S3_PORT:-9100}

# The pid file's process is ours only while it runs moto's server (pids are reused).
alive() { [ -f "$DIR/server.pid" ] && grep -qa "moto_server" "/proc/$(cat "$DIR/server.pid")/cmdline" 2>/dev/null; }

up() {
  mkdir -p "$DIR"
  if alive; then echo "object store already running on http://127.0.0.1:$PORT"; return 0; fi
  nohup .venv/bin/moto_server -H 127.0.0.1 -p "$PORT" >"$DIR/server.log" 2>&1 &
  echo $! >"$DIR/server.pid"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$PORT/moto-api/" >/dev/null 2>&1; then
      # S3A does not create buckets: the prod profile's bucket exists from the start.
      AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} \
        .venv/bin/python -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\
.create_bucket(Bucket=sys.argv[2])" "http://127.0.0.1:$PORT" "${CUSTOMS_S3_BUCKET:-customs-lake}"
      echo "object store (moto) up on http://127.0.0.1:$PORT with bucket ${CUSTOMS_S3_BUCKET:-customs-lake};" \
           "log in $DIR/server.log"
      return 0
    fi
    sleep 0.5
  done
  echo "object store did not start; see $DIR/server.log" >&2
  down
  return 1
}

down() {
  if alive; then
    local pid; pid=$(cat "$DIR/server.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    echo "object store down"
  else
    echo "no object store running from $DIR"
  fi
  rm -f "$DIR/server.pid"
}

case "${1:-}" in
  up) up ;; down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
