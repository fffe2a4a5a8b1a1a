# Two commands for a newcomer: `make demo` (set up + run the pipeline) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DELTA_VERSION := 4.4.0
JARS := .jars
GX_DOCS_ASSETS := .vendor/gx-docs/.complete
WEBJARS := org.webjars:jquery:3.7.1 org.webjars:bootstrap:4.3.1 org.webjars:popper.js:1.12.9 \
	org.webjars.npm:bootstrap-table:1.19.1 org.webjars:font-awesome:6.6.0 org.webjars:bootstrap-datepicker:1.9.0
DELTA_JARS := $(JARS)/delta-spark_4.2_2.13-$(DELTA_VERSION).jar $(JARS)/delta-storage-$(DELTA_VERSION).jar
# Hadoop's S3A connector for the Hadoop 3.5.0 inside pyspark 4.2.0, the AWS SDK bundle and analytics
# accelerator its pom names (jobs/spark_session.py S3A_JARS): only the prod profile needs them.
S3A_ARTIFACTS := org.apache.hadoop:hadoop-aws:3.5.0 software.amazon.awssdk:bundle:2.35.4 \
	software.amazon.s3.analyticsaccelerator:analyticsaccelerator-s3:1.3.1
S3A_JARS := $(JARS)/.s3a-complete
# CUSTOMS_HOME, when set, holds every piece of state (see README, Configuration). The prod profile
# (CUSTOMS_ENV=prod) picks its own defaults in jobs/settings.py (PostgreSQL, the object store).
ifdef CUSTOMS_HOME
export DAGSTER_HOME ?= $(abspath $(CUSTOMS_HOME))/dagster_home
else ifeq ($(CUSTOMS_ENV),prod)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home_prod
else
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
endif
ifneq ($(CUSTOMS_ENV),prod)
ifdef CUSTOMS_HOME
export MLFLOW_TRACKING_URI ?= sqlite:///$(abspath $(CUSTOMS_HOME))/mlflow.db
else
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db
endif
endif
# `make demo SPARK_MASTER=spark://127.0.0.1:7077` runs on the cluster of `make cluster-up`.
ifdef SPARK_MASTER
export CUSTOMS_SPARK_MASTER := $(SPARK_MASTER)
endif
export GX_ANALYTICS_ENABLED := false
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false
DEMO_START ?= 2024-03-04
DEMO_DAYS ?= 28

.PHONY: setup demo test ui mlflow-ui lint clean browser dashboard setup-prod cluster-up cluster-down \
	postgres-up postgres-down object-store-up object-store-down test-cluster test-prod bench bench-clean

setup: $(BIN)/.installed $(DELTA_JARS) $(DAGSTER_HOME)/dagster.yaml $(GX_DOCS_ASSETS)

$(BIN)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	@touch $@

# Delta Lake's jars come from Maven Central through the machine's Maven set-up, once.
$(JARS)/%.jar:
	@mkdir -p $(JARS)
	mvn -q -B dependency:copy -Dartifact=io.delta:$(shell echo $* | sed -E 's/-([0-9.]+)$$/:\1/') \
		-DoutputDirectory=$(JARS)

# The prod profile's extra jars (about 690 MB, mostly the AWS SDK bundle), once.
setup-prod: setup $(S3A_JARS)

$(S3A_JARS):
	@mkdir -p $(JARS)
	for a in $(S3A_ARTIFACTS); do mvn -q -B dependency:copy -Dartifact=$$a -DoutputDirectory=$(JARS) || exit 1; done
	@touch $@

# The instance's settings (concurrency pools and run limits) live in the project.
# The libraries GX Data Docs load from CDNs, as WebJars from Maven Central, once (offline docs).
$(GX_DOCS_ASSETS): $(BIN)/.installed
	@mkdir -p .vendor/webjars
	for a in $(WEBJARS); do mvn -q -B dependency:copy -Dartifact=$$a -DoutputDirectory=.vendor/webjars || exit 1; done
	$(BIN)/python -m expectations.docs_offline .vendor/webjars
	@touch $@

# An existing dagster.yaml keeps its own settings and gets the concurrency section added.
$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml $(BIN)/.installed
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -c "from pathlib import Path; from orchestration.cli import ensure_instance_config; \
		ensure_instance_config(Path('$@'))"
	@touch $@

demo: setup
	@$(BIN)/customs-risk demo --start $(DEMO_START) --days $(DEMO_DAYS)

# The dashboard's browser test drives Debian's Chromium (no browser download) with a Korean font.
browser:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi nanum; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium and fonts-nanum for the dashboard test"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum; \
	else echo "NOTE: the dashboard test needs Debian's chromium and fonts-nanum: sudo apt-get install -y chromium fonts-nanum"; fi

test: setup browser
	$(BIN)/pytest -q

# A Spark standalone master and two workers on 127.0.0.1 (logs and pids in .services/spark).
cluster-up: setup
	@services/spark_cluster.sh up

cluster-down:
	@services/spark_cluster.sh down

# Debian's PostgreSQL on 127.0.0.1:$${PGPORT:-5433}, data in .services/postgres; PGPASSWORD from the environment.
postgres-up:
	@services/postgres.sh up

postgres-down:
	@services/postgres.sh down

# An S3-compatible server (moto) on 127.0.0.1:9100 for trying the prod profile locally.
object-store-up: setup
	@services/object_store.sh up

object-store-down:
	@services/object_store.sh down

# The same day on the cluster and in local mode: starts the cluster, runs the `cluster` tests, stops it.
test-cluster: setup
	@services/test_cluster.sh

# The prod profile against PostgreSQL and the object store (started fresh here, stopped after).
test-prod: setup-prod
	@services/test_prod.sh

# The daily run at national volume: each size after 30 and 180 days of history (JSON in
# benchmarks/results/). The set-up of each history (history, champions, state) is built once in
# .bench/h<days>/ and copied for each size (`make bench-clean` removes it). Training on 1M distinct
# labelled rows twice: once on the 3M day's declarations (one day, cut by row order), once on 45
# generated days cut by days (benchmarks/train_speed.py; about 7 minutes the first time, 2 after;
# BENCH_TRAIN=0 skips it). Hours on 2 cores: narrow it with e.g.
# `make bench BENCH_SIZES=1000000 BENCH_HISTORY=30 BENCH_TRAIN=0`.
BENCH_SIZES ?= 100000 1000000 3000000
BENCH_HISTORY ?= 30 180
BENCH_TRAIN ?= 1
bench: setup
	@for h in $(BENCH_HISTORY); do for n in $(BENCH_SIZES); do \
		train=0; if [ $$n = 3000000 ] && [ $$h = $(firstword $(BENCH_HISTORY)) ]; then train=1000000; fi; \
		echo "== daily run: $$n records after $$h days of history =="; \
		$(BIN)/python benchmarks/daily_run.py --records $$n --history-days $$h --train-rows $$train \
			--setup-dir .bench/h$$h || exit 1; \
	done; done
	@if [ "$(BENCH_TRAIN)" != 0 ]; then \
		echo "== training a selector on 1,000,000 labelled rows of 45 days (time order) =="; \
		$(BIN)/python benchmarks/train_speed.py --seed 7 || exit 1; fi
	@$(BIN)/python benchmarks/daily_run.py --table

bench-clean:
	rm -rf .bench

dashboard: setup
	@$(BIN)/python -m dashboard.build

ui: setup
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

mlflow-ui: setup
	$(if $(CUSTOMS_S3_ENDPOINT),MLFLOW_S3_ENDPOINT_URL=$(CUSTOMS_S3_ENDPOINT)) $(BIN)/mlflow ui \
		--backend-store-uri "$$($(BIN)/python -c 'from jobs.settings import default_tracking_uri as t; print(t())')" \
		--host 127.0.0.1 --port 5000 --workers 1

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf data publish .dagster_home mlflow.db
