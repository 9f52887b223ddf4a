# symmio-hedger — the two commands that matter:
#   make demo   run the hedger end to end on the embedded local stack
#   make test   lint (ruff, ruff format --check, mypy) and the whole test suite (what CI runs)
# Both install whatever is missing first (venv + pinned Python packages, pinned npm packages).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NPM_STAMP := devnet/node_modules/.installed
ARGS ?=

.PHONY: deps demo chaos test lint format clean stack-down bench

deps: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

$(NPM_STAMP): devnet/package.json devnet/package-lock.json
	cd devnet && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

demo: deps
	$(BIN)/hedger demo $(ARGS)

# The demo under kill -9 of every process kind and every broker fault; honest counters, exit 0/1/2.
# e.g. make chaos ARGS="--intents 50 --every 5 --seed 3"
chaos: deps
	$(BIN)/hedger devnet chaos $(ARGS)

# Latency per hop against a straight-line floor, lock race, sustained rate, CPU/RSS, memory per
# open position: bench/results/latest.json + latest.png (about 15 min; ARGS="--quick": 3 min).
bench: deps
	$(BIN)/python -m bench.run $(ARGS)

# The suite runs in TEST_WORKERS pytest-xdist processes, a test directory per process at a time
# (tests/conftest.py): most tests wait on the chain, Temporal or a broker, not on the CPU.
TEST_WORKERS ?= 2
test: deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(ARGS)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

stack-down: deps
	$(BIN)/hedger stack down

clean:
	rm -rf $(VENV) devnet/node_modules .pytest_cache .mypy_cache .ruff_cache
