# `make run` runs the bot, `make demo` the sandbox (no token needed), `make test` every check;
# each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run demo test check soak push-examples clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/tagwire run

# The bot against a local Bot API, with a chat page at http://127.0.0.1:8088.
demo: $(STAMP)
	$(VENV)/bin/tagwire sandbox

test: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check

# The fault and load scenarios at full size (5 000 chats killed five times, a 5-minute
# Telegram outage, 2 000 users for 60 s, ...); `make test` runs them small. Counts in -s output.
soak: $(STAMP)
	TAGWIRE_SOAK=1 $(VENV)/bin/python -m pytest -m soak -s $(PYTEST_ARGS)

push-examples: $(STAMP)
	$(VENV)/bin/tagwire push examples/japan.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
