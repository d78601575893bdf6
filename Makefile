# The two commands: `make up` (set everything up, bring the stack up) and `make test`.
# Every step is idempotent: a second run skips what is already there.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BOSUN := $(VENV)/bin/bosun-local
STAMP := $(VENV)/.bosun-installed

.PHONY: up test down venv provision images lint bench

$(STAMP): pyproject.toml setup.py
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

provision: $(STAMP)
	$(BOSUN) engine ensure

images: provision
	$(BOSUN) images build

up: images
	$(BOSUN) up --wait

test: images
	$(VENV)/bin/pytest -ra

down: $(STAMP)
	$(BOSUN) down

lint: $(STAMP)
	$(VENV)/bin/ruff check bosun_local tests bench

bench: images
	$(VENV)/bin/python bench/run_all.py
