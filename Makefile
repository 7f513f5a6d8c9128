# `make demo` starts the platform with a demo study; `make test` runs the whole test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

demo: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py demo
	@echo "Open http://127.0.0.1:$(PORT)/  (Ctrl-C stops it)"
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

.PHONY: install demo test lint

# `make bench`: the load benchmark (gunicorn, PostgreSQL, Redis, a Celery worker; results in
# bench/results/load.md and .json), then every other `bench-*` target of this Makefile.
# Needs the servers of .ci/run; BENCH_ARGS passes options (e.g. --duration 30 --units 10000).
bench: install
	$(BIN)/python bench/bench_load.py $(BENCH_ARGS)
	@for target in $$(grep -oE '^bench-[A-Za-z0-9_-]+:' Makefile | tr -d ':'); do $(MAKE) $$target || exit 1; done

.PHONY: bench

# Export benchmark: 1,000,000 pairwise judgments on PostgreSQL (a separate database, dropped
# afterwards), exported as trl-preference JSONL and Parquet, raw and scores-long.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/trenchcoat_bench
bench-export: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/bench_export.py $(BENCH_EXPORT_ARGS)

.PHONY: bench-export

# Elicitation benchmark: simulated annotators through every registered strategy (in-memory
# pool, no servers); judgments each needs to rank 10 systems. Writes bench/results/elicitation.{md,json}.
# BENCH_ELICITATION_ARGS=--quick for a smoke run.
bench-elicitation: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/bench_elicitation.py $(BENCH_ELICITATION_ARGS)

.PHONY: bench-elicitation

# Next-unit latency per strategy: 100 systems, 10,000 items a study, model state warm in Redis,
# the real lease service timed for uniform, active-bt and crowd-bt (own database, dropped
# afterwards). Writes bench/results/strategy_latency.{md,json}. BENCH_STRAT_ARGS passes options.
BENCH_STRAT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/trenchcoat_bench_strat
bench-strategy-latency: install
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 BENCH_STRAT_DATABASE_URL=$(BENCH_STRAT_DATABASE_URL) $(BIN)/python bench/bench_strategy_latency.py $(BENCH_STRAT_ARGS)

.PHONY: bench-strategy-latency
