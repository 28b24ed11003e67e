# `make run` runs the bot, `make demo` the sandbox (no token needed), `make test` every check;
# each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run demo test check soak mutate push-examples clean

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

# The tests use the PostgreSQL server on 127.0.0.1:5432; scripts/postgres-for-tests starts one
# (from Debian's packages, as root) only where none answers.
test: $(STAMP)
	scripts/postgres-for-tests
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check

# The fault and load scenarios at full size (5 000 chats killed five times, a 5-minute
# Telegram outage, 2 000 users for 60 s, ...); `make test` runs them small. Counts in -s output.
soak: $(STAMP)
	TAGWIRE_SOAK=1 $(VENV)/bin/python -m pytest -m soak -s $(PYTEST_ARGS)

# Mutation testing (mutmut, [tool.mutmut] in pyproject.toml): small changes to the modules that
# carry the promises, each run against the tests that reach it; a mutant no test notices
# survives. Minutes a module, so not part of `make test`: run it when you touched one of them.
# One module: `make mutate MUTATE='bot.delivery.sender.*'`; a survivor in full:
# `.venv/bin/mutmut show NAME`. Scores per module at the end (docs/reliability.md keeps them).
MUTATE ?= bot.delivery.sender.* bot.texts.formatting.* bot.intake.validation.* \
	bot.web.api.*_authorize* bot.web.api.*RequestLimiter* bot.web.api.*_limited* \
	bot.delivery.engine.*
mutate: $(STAMP)
	mkdir -p mutants
	$(VENV)/bin/mutmut run --max-children 2 $(foreach glob,$(MUTATE),'$(glob)') \
		> mutants/run.log 2>&1 || { tail -n 40 mutants/run.log; exit 1; }
	$(VENV)/bin/python scripts/mutation-score $(MUTATE)

push-examples: $(STAMP)
	$(VENV)/bin/tagwire push examples/japan.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants
