# Two commands: `make demo` sets up and runs the demo, `make test` sets up and
# runs every test. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint setup clean

# The official MicroPython stubs of each board, for the board files' type
# check (tests/firmware/test_board_types.py). Each in its own folder: the two
# packages ship different machine.pyi, network.pyi... under the same names.
STUBS := $(VENV)/mpy-stubs
STUBS_ESP32 := micropython-esp32-stubs==1.29.*
STUBS_PICOW := micropython-rp2-rpi-pico-w-stubs==1.29.*

$(BIN)/borne: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --upgrade --target $(STUBS)/esp32 '$(STUBS_ESP32)'
	$(BIN)/pip install -q --upgrade --target $(STUBS)/picow '$(STUBS_PICOW)'
	touch $@

setup: $(BIN)/borne

demo: setup
	$(BIN)/borne demo

lint: setup
	$(BIN)/ruff check .

# The emulated Raspberry Pi Pico's harness (tests/pico), when Node.js is there;
# without it those tests skip (and fail with BORNE_REQUIRE_REAL=1).
PICO := tests/pico/node_modules/rp2040js
$(PICO): tests/pico/package.json tests/pico/package-lock.json
	if command -v npm >/dev/null; then cd tests/pico && npm ci --no-audit --no-fund; fi

# Most tests wait on brokers, firmware processes and browsers rather than
# compute, so three workers pay even on two cores; a test file stays on one
# worker, which keeps its module fixtures (a booted Pico, a built firmware)
# built once.
test: setup lint $(PICO)
	$(BIN)/pytest -n 3 --dist loadfile

clean:
	rm -rf $(VENV) build *.egg-info
