# The two commands: `make run` (the portal on its embedded default) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup messages makemessages migrate lint clean

run: setup migrate
	$(BIN)/python manage.py demo_setup
	$(BIN)/python -m devtools.run

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(STAMP) messages

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Compiled with Babel (pure Python), so no system gettext is needed to run or test.
messages: $(STAMP)
	$(BIN)/pybabel compile --domain django --directory locale --statistics
	$(BIN)/pybabel compile --domain django --directory locale_allauth

# Extract new strings (needs GNU gettext's xgettext), then fill the English catalog.
makemessages: $(STAMP)
	$(BIN)/python manage.py makemessages --locale fr --locale en --no-obsolete --no-location
	$(BIN)/python -m devtools.i18n fill-en

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var staticfiles
