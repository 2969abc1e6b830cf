# restock — every set-up step lives here, so a fresh clone needs only `make reports` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SHOP   ?= data/sample
STORE  ?= data/restock.duckdb
CONFIG ?= config/weekly.yaml
SIZES  ?= 1000,10000
INTAKE_LINES ?= 5000000

.DEFAULT_GOAL := help
.PHONY: help install reports test lab bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

help: ## list the commands
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv and install the pinned requirements

reports: install ## import the bundled DEMO shop (or SHOP=folder) into the store (STORE=path) and run the weekly batch
	$(PY) -m restock intake $(SHOP) --store $(STORE)
	$(PY) -m restock run --config $(CONFIG) --store $(STORE)

test: install ## every test: unit and end-to-end, then each notebook under nbval on the sample shop
	$(PY) -m pytest tests
	rm -rf build/nbval && mkdir -p build/nbval/data
	$(PY) -m restock intake data/sample --store build/nbval/data/restock.duckdb > /dev/null
	RESTOCK_HOME=$(CURDIR)/build/nbval $(PY) -m pytest --nbval-lax -p no:cacheprovider notebooks

lab: install ## open the notebooks in JupyterLab (run `make reports` first for the demo store)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: install ## benchmark the batch on generated shops (SIZES=1000,10000); see BENCHMARKS.md
	$(PY) -m restock bench --sizes $(SIZES) --intake-lines $(INTAKE_LINES)

clean: ## remove the virtual environment and build folders (keeps data/ and reports/)
	rm -rf $(VENV) build
