# One command each, from a fresh clone (needs only Python 3.11+ and pip):
#   make run    install everything pinned into .venv, then `kedro run`
#   make test   install everything pinned into .venv, then run the tests
# On a machine without a GPU, `make run TORCH_INDEX=https://download.pytorch.org/whl/cpu`
# takes torch (still 2.13.0) from PyTorch's CPU-only index instead of the
# multi-GB CUDA build; without it nothing but the package index is contacted.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_INDEX ?=
export DO_NOT_TRACK := true
export KEDRO_DISABLE_TELEMETRY := true

.PHONY: install run test lint format viz mlflow-ui report-png benchmark clean

$(BIN)/kedro: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet torch==2.13.0 --index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/kedro

run: install
	$(BIN)/kedro run $(ARGS)

# every core (pytest-xdist, see pyproject.toml); the inner loop, about a fifth of
# the time: make test ARGS='-m "not slow"'
test: install
	$(BIN)/python -m pytest $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

viz: install
	$(BIN)/kedro viz build --include-previews

# prints the addresses of the experiment's runs and models views, then serves
mlflow-ui: install
	$(BIN)/kedro mlflow-ui

# the latest report as a browser shows it (needs Chromium), to build/report.png
report-png: install
	$(BIN)/python -m pytorch_intro.reporting.screenshot

# the assignment's loop, the eager and the compiled step (and JAX/Keras when the
# bench extra is installed) on all six variants; the default `kedro run` first
# and second; the fast environment's time to accuracy; a 12-point sweep on one
# and two workers (about 40 minutes; see benchmarks/README.md)
benchmark: install
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/default_run.py
	$(BIN)/python benchmarks/time_to_accuracy.py
	$(BIN)/python benchmarks/sweep_speed.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
