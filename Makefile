# Two commands: `make demo` sets up and runs the demo, `make test` sets up and
# runs every test. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint setup clean

$(BIN)/borne: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/borne

demo: setup
	$(BIN)/borne demo

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build *.egg-info
