# Two commands for a fresh machine: `make report` and `make test` (both bootstrap .venv with pip).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SIZE ?= default
JOBS ?=

.PHONY: report test docs venv lab lint data panels render bench clean-reports

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/ceci-impact kernel --quiet
	@touch $(STAMP)

## venv: the project's virtual environment only (.ci/run adds the [spark] extra to it)
venv: $(STAMP)

## report: simulate the default world (if data/raw is empty), build panels, render every report
report: $(STAMP)
	$(BIN)/ceci-impact simulate --size $(SIZE) --if-missing
	$(BIN)/ceci-impact build
	$(BIN)/ceci-impact render $(if $(JOBS),--jobs $(JOBS),)

## test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## docs: the documentation site (Sphinx + numpydoc + myst-parser; warnings are errors) into docs/_build/html
DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,docs]'
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	rm -rf docs/_build docs/generated
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

## lab: JupyterLab with the project's kernel
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

data: $(STAMP)
	$(BIN)/ceci-impact simulate --size $(SIZE)

panels: $(STAMP)
	$(BIN)/ceci-impact build

render: $(STAMP)
	$(BIN)/ceci-impact render

clean-reports:
	rm -rf reports/html reports/executed reports/results reports/index.html
