# Hamdel — every command a person or CI runs. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
PY := .venv/bin/python
RASA := .venv-rasa/bin/rasa

.PHONY: help setup lock train services chat run admin test lint types audit validate unit-test story-test nlu-eval full-stack-test report bench clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup:  ## create both Python environments and the database (idempotent)
	@bash scripts/setup.sh

lock:  ## re-resolve requirements/*.txt into the hashed requirements/*.lock (after any edit; commit them). UPGRADE=1 moves to newer releases
	@bash scripts/lock.sh $(if $(UPGRADE),--upgrade)

train: setup  ## train the model into models/ if its inputs changed
	@$(PY) -m hamdel.services train

services: setup  ## Rasa (HTTP API + REST on 127.0.0.1:5005) and the action server (5055), until Ctrl+C. WORKERS=n Rasa workers (Redis lock store), ACTION_WORKERS=n
	@$(if $(WORKERS),WORKERS=$(WORKERS) )$(if $(ACTION_WORKERS),ACTION_WORKERS=$(ACTION_WORKERS) )$(PY) -m hamdel.services serve

admin: setup  ## the admins' web console on ADMIN_HOST:ADMIN_PORT (127.0.0.1:8000), next to make services
	@$(PY) -m console

chat: setup  ## THE MAIN JOB: terminal chat without TELEGRAM_TOKEN, the Telegram bot with it
	@$(PY) -m hamdel

run: chat  ## same as chat

test: setup  ## everything: lint, types, validation, audit, unit tests, conversation tests, NLU evaluation, full stack
	@bash scripts/test.sh

lint: setup  ## ruff over the whole project
	@bash scripts/test.sh lint

types: setup  ## mypy over the application packages (config in pyproject.toml)
	@bash scripts/test.sh types

audit: setup  ## known vulnerabilities in both locks, unexplained ones fail (requirements/audit-ignore.txt)
	@bash scripts/test.sh audit

validate: setup  ## rasa data validate, failing on any warning
	@$(RASA) data validate --data nlu_data --domain domain.yml --config config.yml --fail-on-warnings

unit-test: setup  ## fast tests (no Rasa server)
	@$(PY) -m pytest -q -m "not integration"

story-test: train  ## conversation tests against the trained model
	@bash scripts/test.sh stories

nlu-eval: train  ## held-out figures (intents, complaint vs not, false complaints, entities, perturbed) and the regression gate
	@bash scripts/test.sh nlu

full-stack-test: train  ## start Rasa and the action server, hold a real conversation, check the ticket
	@$(PY) -m pytest -q -m integration

report: setup  ## complaint measures over a date range: make report FROM=2026-11-01 TO=2026-11-30
	@$(PY) -m followups.report $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) --png var/report.png

bench: setup  ## benchmarks (print figures): Hamdel against a stock `rasa init` bot (latency, throughput, memory), the Telegram path, the follow-up scheduler. QUICK=1 for a short run, WORKERS=n Rasa processes
	@$(PY) benchmarks/bench.py $(if $(QUICK),--quick) $(if $(WORKERS),--workers $(WORKERS))
	@$(PY) benchmarks/followups_bench.py

clean:  ## remove models, logs and the local database (not the environments)
	rm -rf models var results .pytest_cache
