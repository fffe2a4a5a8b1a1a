#!/usr/bin/env bash
# `make test-cluster`: start the standalone cluster, run the tests marked `cluster`, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'services/spark_cluster.sh down || true' EXIT
services/spark_cluster.sh up
.venv/bin/pytest -q -m cluster "$@"
