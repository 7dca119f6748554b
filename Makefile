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

.PHONY: run demo test test-rust test-python lint bench bench-env guard guard-baseline clean

run: $(EXT_STAMP)
	$(VENV)/bin/arbcore run

demo: $(EXT_STAMP)
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

test: $(EXT_STAMP) test-rust test-python lint guard

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

# Regression guard: callgrind instruction counts of the hot paths (book apply, Binance frame
# decode + apply, consolidated refresh + detection) on a small fixed input, against
# benches/guard/baseline.json; fails only above 1.25x. Without valgrind: skipped locally, fails
# when CI=true. `make guard-baseline` re-measures and rewrites the baseline (commit it).
guard:
	$(PYTHON) benches/guard/guard.py

guard-baseline:
	$(PYTHON) benches/guard/guard.py --update

# Benchmark environment: a separate venv with arbcore (the same editable build as .venv, via a
# .pth file), its runtime deps, the bench tools and the peers of benches/requirements-peers.txt.
# Peers never enter arbcore's own dependencies. A peer that fails to install is left out and
# BENCHMARKS.md says so.
BENCH_VENV  := .venv-bench
BENCH_PY    := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.peers-stamp

$(BENCH_STAMP): benches/requirements-peers.txt pyproject.toml
	test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	print('\n'.join(p['dependencies'] + [d for d in p['optional-dependencies']['dev'] \
	if d.split('>')[0] in ('pytest', 'pytest-benchmark', 'sortedcontainers')]))" > $(BENCH_VENV)/requirements.txt
	$(BENCH_PY) -m pip install --quiet -r $(BENCH_VENV)/requirements.txt
	grep -v '^#' benches/requirements-peers.txt | grep . | while read -r req; do \
		$(BENCH_PY) -m pip install --quiet "$$req" || echo "bench-env: could not install $$req (reported as missing)"; \
	done
	$(BENCH_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" | \
		xargs -I{} sh -c 'echo "$(abspath python)" > {}/arbcore.pth'
	touch $@

bench-env: $(BENCH_STAMP)

# Criterion (Rust, `bench` profile: fat LTO, one codegen unit) and pytest-benchmark (Python, in
# the bench venv with the peers); writes BENCHMARKS.md and benchmarks.json. The e2e latency
# bench (benches/test_e2e_latency.py) writes target/bench-e2e.json, which report.py includes.
bench: $(EXT_STAMP) $(BENCH_STAMP)
	cargo bench --bench book --bench detect
	$(BENCH_PY) -m pytest -q -p no:cacheprovider benches --benchmark-enable --benchmark-only \
		--benchmark-json=target/pytest-benchmark.json
	$(BENCH_PY) -m pytest -q -p no:cacheprovider benches/test_e2e_latency.py  # no benchmark fixture: not run above
	$(BENCH_PY) benches/report.py --criterion target/criterion --pytest target/pytest-benchmark.json \
		--e2e target/bench-e2e.json --guard benches/guard/baseline.json \
		--out BENCHMARKS.md --json benchmarks.json

clean:
	rm -rf $(VENV) $(BENCH_VENV) target python/arbcore/*.so
