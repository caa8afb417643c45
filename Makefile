# One entry point for setting up, running the demo and testing.
# The CPU build of torch is installed first and pinned, so that nothing pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_CPU ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_CPU)"
	$(BIN)/python -m pip install --quiet -e ".[test]" "$(TORCH_CPU)"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/harbench run suites/quick.yaml

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/data.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
