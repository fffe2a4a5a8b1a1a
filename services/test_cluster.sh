#!/usr/bin/env bash
# `make test-cluster`: start the standalone cluster, run the tests marked `cluster`, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
services/spark_cluster.sh up
trap 'services/spark_cluster.sh down' EXIT
.venv/bin/pytest -q -m cluster "$@"
