# `make run` runs the bot, `make test` runs every check; both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test check push-examples clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/tagwire run

test: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check

push-examples: $(STAMP)
	$(VENV)/bin/tagwire push examples/japan.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
