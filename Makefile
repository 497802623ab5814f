# FoleyStudio developer entry points. Every target creates the environment if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test test-slow lint run bench env clean

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m foleystudio demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/lint-imports

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check foleystudio tests benchmarks
	$(BIN)/ruff format --check foleystudio tests benchmarks
	$(BIN)/lint-imports

run: $(STAMP)
	QT_QPA_PLATFORM= $(BIN)/foleystudio gui

bench: $(STAMP)
	$(BIN)/foleystudio bench all

clean:
	rm -rf $(VENV) build *.egg-info demo-output
