# Two entry points on a fresh machine (each bootstraps .venv itself):
#   make app   - serve the Voila gallery on http://127.0.0.1:8866 with bundled demo data
#   make test  - install what the tests need and run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.battlab-installed
REAL_DATA := $(wildcard ../shared/data/real)

.PHONY: app test bench notebooks audit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools  # the venv seeds setuptools 65.5, which has published advisories
	$(BIN)/python -m pip install --quiet -e ".[all,xrd2d,test]"
	touch $(STAMP)

app: $(STAMP)
	$(BIN)/battlab gallery --port 8866 $(if $(REAL_DATA),--data-dir $(REAL_DATA),)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Needs a reachable vulnerability service (PyPI JSON or OSV); the offline floor check is
# tests/hardening/test_advisories.py.
audit: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/pip-audit --skip-editable

notebooks: $(STAMP)
	$(BIN)/python tools/make_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
