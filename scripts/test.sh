#!/usr/bin/env bash
# `make test`: the whole suite, in the order that fails fastest.
#   1. lint (ruff)                                 2. static types (mypy, [tool.mypy] in pyproject.toml)
#   3. rasa data validate (no warnings allowed)    4. known vulnerabilities in requirements/*.lock
#   5. unit tests, the listening corpus and the fault-injection suite (no Rasa server)
#   6. train if needed                             7. conversation tests (tests/test_stories.yml)
#   8. NLU evaluation with the no-regression gate  9. full-stack tests (real Rasa + action server)
# `scripts/test.sh lint`, `types`, `audit`, `stories` or `nlu` runs one step.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1
PY=.venv/bin/python
RASA=.venv-rasa/bin/rasa
step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }
rasa_quiet() { "$@" 2>&1 | grep -vE "is ignored: it is neither|DeprecationWarning|declare_namespace|pkg_resources|xla_computation|MovedIn20Warning|declarative_base|^\s*$" || true; }

stories() {
  step "conversation tests (tests/test_stories.yml, --fail-on-prediction-errors)"
  local model; model=$($PY -c 'from hamdel.services import model_path; print(model_path())')
  rm -rf results/stories
  set +e
  "$RASA" test core --model "$model" --stories tests/test_stories.yml --out results/stories \
    --fail-on-prediction-errors > results-stories.log 2>&1
  local code=$?
  set -e
  grep -E "Finished evaluation|Correct:|Failed stories|F1-Score|Accuracy" results-stories.log | sed 's/^.*INFO *//' || true
  if [[ $code -ne 0 ]]; then
    tail -40 results-stories.log; [[ -f results/stories/failed_test_stories.yml ]] && head -80 results/stories/failed_test_stories.yml
    rm -f results-stories.log; echo "conversation tests failed"; return 1
  fi
  rm -f results-stories.log
}

nlu() {
  step "NLU evaluation on the held-out files (tests/nlu/), gated against tests/nlu/baseline.json"
  local model; model=$($PY -c 'from hamdel.services import model_path; print(model_path())')
  .venv-rasa/bin/python scripts/nlu_eval.py --model "$model"
}

lint() {
  step "lint (ruff)"
  .venv/bin/ruff check .
}

types() {
  step "static types (mypy)"
  .venv/bin/mypy
}

audit() {
  step "known vulnerabilities (pip-audit over requirements/*.lock; explained in requirements/audit-ignore.txt)"
  $PY -m devtools.audit
}

if [[ $# -gt 0 ]]; then "$1"; exit; fi

lint
types

step "rasa data validate"
rasa_quiet "$RASA" data validate --data nlu_data --domain domain.yml --config config.yml --fail-on-warnings \
  | grep -E "UserWarning|ERROR|Error|warning" && { echo "validation reported problems"; exit 1; } || echo "no warnings"

audit

step "unit tests"
$PY -m pytest -q -m "not integration" -p no:cacheprovider

step "model"
$PY -m hamdel.services train

stories
nlu

step "full-stack tests (Rasa + action server + database)"
$PY -m pytest -q -m integration -p no:cacheprovider
