# Two set-up commands, both from a fresh clone: `make run` and `make test`.
# Everything lands in .venv; the extension is rebuilt only when Rust sources change.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# pyo3's build script must see the venv's interpreter, also for cargo clippy/test.
export PYO3_PYTHON := $(abspath $(PY))

RUST_SRC := $(shell find rust -name '*.rs') Cargo.toml
DEPS_STAMP := $(VENV)/.deps-stamp
EXT_STAMP  := $(VENV)/.ext-stamp

.PHONY: run demo test test-rust test-python lint bench clean

run: $(EXT_STAMP)
	$(VENV)/bin/arbcore demo

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Runtime + dev dependencies straight from pyproject.toml (single source of truth).
$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	print('\n'.join(p['dependencies'] + p['optional-dependencies']['dev']))" > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet -r $(VENV)/requirements.txt
	touch $@

# Release build (fat LTO, see Cargo.toml), installed editable into the venv.
$(EXT_STAMP): $(DEPS_STAMP) $(RUST_SRC) Cargo.lock pyproject.toml
	$(VENV)/bin/maturin develop --release
	touch $@

Cargo.lock: Cargo.toml
	cargo generate-lockfile

test: $(EXT_STAMP) test-rust test-python lint

test-rust:
	cargo test --quiet

test-python: $(EXT_STAMP)
	$(PY) -m pytest -q tests

lint: $(DEPS_STAMP)
	cargo fmt --check
	cargo clippy --quiet --all-targets -- -D warnings
	cargo clippy --quiet --lib --features python -- -D warnings
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/mypy python/arbcore

# Criterion (Rust) and pytest-benchmark (Python); writes BENCHMARKS.md and benchmarks.json.
bench: $(EXT_STAMP)
	cargo bench --bench book --bench detect
	$(PY) -m pytest -q benches --benchmark-enable --benchmark-only \
		--benchmark-json=target/pytest-benchmark.json
	$(PY) benches/report.py --criterion target/criterion --pytest target/pytest-benchmark.json \
		--out BENCHMARKS.md --json benchmarks.json

clean:
	rm -rf $(VENV) target python/arbcore/*.so
