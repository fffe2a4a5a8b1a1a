#!/usr/bin/env bash
# A Spark standalone cluster on 127.0.0.1 from the installed pyspark's own launch classes: one
# master and SPARK_WORKERS workers, their logs, pid files and work folders under .services/spark.
#   services/spark_cluster.sh up | down | status
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DIR=${SPARK_CLUSTER_DIR:-.services/spark}
MASTER_PORT=${SPARK_MASTER_PORT:-7077}
UI_PORT=${SPARK_MASTER_WEBUI_PORT:-8080}
WORKERS=${SPARK_WORKERS:-2}
WORKER_CORES=${SPARK_WORKER_CORES:-1}
WORKER_MEMORY=${SPARK_WORKER_MEMORY:-3g}
MASTER_URL="spark://127.0.0.1:${MASTER_PORT}"

# A pid file's process is ours only while it runs a Spark deploy class (pids are reused).
alive() { [ -f "$1" ] && grep -qa "org.apache.spark.deploy" "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

alive_workers() {
  curl -fsS "http://127.0.0.1:${UI_PORT}/json/" 2>/dev/null \
    | "$PY" -c "import json,sys; print(sum(w['state'] == 'ALIVE' for w in json.load(sys.stdin)['workers']))" \
    2>/dev/null || echo 0
}

up() {
  SPARK_HOME=$("$PY" -c "import os, pyspark; print(os.path.dirname(pyspark.__file__))")
  export SPARK_HOME SPARK_LOG_DIR="$PWD/$DIR/logs" SPARK_NO_DAEMONIZE=1
  mkdir -p "$DIR/logs" "$DIR/work"
  if alive "$DIR/master.pid"; then
    echo "Spark master already running (pid $(cat "$DIR/master.pid")) at $MASTER_URL"
  else
    nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 \
      --port "$MASTER_PORT" --webui-port "$UI_PORT" >"$DIR/logs/master.log" 2>&1 &
    echo $! >"$DIR/master.pid"
  fi
  for i in $(seq 1 "$WORKERS"); do
    if alive "$DIR/worker-$i.pid"; then continue; fi
    # Workers use the project's interpreter for Python tasks (scoring in Arrow batches).
    PYSPARK_PYTHON="$PWD/.venv/bin/python" nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" --webui-port $((UI_PORT + i)) \
      --work-dir "$PWD/$DIR/work/worker-$i" "$MASTER_URL" >"$DIR/logs/worker-$i.log" 2>&1 &
    echo $! >"$DIR/worker-$i.pid"
  done
  for _ in $(seq 1 90); do
    if ! alive "$DIR/master.pid"; then  # e.g. the port is taken by another master
      echo "the Spark master exited; see $DIR/logs/master.log" >&2
      down
      return 1
    fi
    if [ "$(alive_workers)" -ge "$WORKERS" ]; then
      echo "Spark standalone cluster up: master $MASTER_URL (UI http://127.0.0.1:$UI_PORT), $WORKERS worker(s)" \
           "x $WORKER_CORES core(s), $WORKER_MEMORY; logs in $DIR/logs"
      return 0
    fi
    sleep 1
  done
  echo "Spark cluster did not come up within 90 s; see $DIR/logs" >&2
  down
  return 1
}

down() {
  local stopped=0
  for pid_file in "$DIR"/worker-*.pid "$DIR/master.pid"; do
    [ -f "$pid_file" ] || continue
    if alive "$pid_file"; then
      local pid; pid=$(cat "$pid_file")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
      stopped=$((stopped + 1))
    fi
    rm -f "$pid_file"
  done
  echo "Spark cluster down ($stopped process(es) stopped)"
}

status() {
  if alive "$DIR/master.pid"; then
    echo "master $MASTER_URL (pid $(cat "$DIR/master.pid")), $(alive_workers) alive worker(s)"
  else
    echo "no Spark master running from $DIR"; return 1
  fi
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
