#!/usr/bin/env bash
# Creates both Python environments; safe to run again (it only does what is missing).
#   .venv-rasa  Python 3.10: the Rasa server (rasa 3.6.21 refuses Python 3.11) + hazm for the
#               normalisation component
#   .venv       Python 3.11: action server, Telegram bot, storage, tests
# A stamp file per environment records the hash of its requirement files, so editing them
# triggers a reinstall and nothing else does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
quiet_pip() { "$@" 2>&1 | grep -vE "is ignored: it is neither a file nor a directory|^\s*$" || true; }

find_python() {  # $1 = version, e.g. 3.10
  local v="$1"
  for candidate in "python$v" "$HOME/.pyenv/versions/$v"*/bin/python"$v" /root/.pyenv/versions/"$v"*/bin/python"$v" /usr/bin/python"$v"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

RASA_STAMP=$(stamp_of requirements/rasa.txt requirements/rasa-hazm.txt requirements/rasa-vectors.txt scripts/setup.sh)
APP_STAMP=$(stamp_of requirements/app.txt)

if [[ ! -f .venv-rasa/.stamp || "$(cat .venv-rasa/.stamp)" != "$RASA_STAMP" ]]; then
  PY310=$(find_python 3.10) || { echo "Python 3.10 is required for Rasa 3.6 (e.g. pyenv install 3.10)"; exit 1; }
  say "Rasa environment (Python 3.10, about 2 minutes the first time)…"
  [[ -x .venv-rasa/bin/python ]] || "$PY310" -m venv .venv-rasa
  quiet_pip .venv-rasa/bin/pip install -q --upgrade pip
  quiet_pip .venv-rasa/bin/pip install -q -r requirements/rasa.txt
  # hazm pins numpy==1.24.3, which tensorflow 2.12 refuses: install it without dependencies and
  # give it its runtime modules under a constraint that keeps what Rasa installed.
  .venv-rasa/bin/pip freeze 2>/dev/null | grep -iE '^(numpy|scikit-learn|scipy|tensorflow|tensorflow-cpu|protobuf|sqlalchemy)==' > .venv-rasa/constraints.txt
  quiet_pip .venv-rasa/bin/pip install -q --no-deps hazm==0.10.0
  quiet_pip .venv-rasa/bin/pip install -q -c .venv-rasa/constraints.txt -r requirements/rasa-hazm.txt
  # Word vectors for the NLU (rasa_addons/word_vectors.py): PerSent (MIT) ships a word2vec model
  # trained on Persian shop reviews. Only its model file is used, so no dependencies (it would pull
  # pandas and a newer numpy); gensim is already here for hazm.
  quiet_pip .venv-rasa/bin/pip install -q --no-deps "$(grep -E '^persent==' requirements/rasa-vectors.txt)"
  .venv-rasa/bin/python -c "import rasa, hazm; print('rasa', rasa.__version__, '+ hazm ok')"
  echo "$RASA_STAMP" > .venv-rasa/.stamp
else
  say "Rasa environment is up to date"
fi

if [[ ! -f .venv/.stamp || "$(cat .venv/.stamp)" != "$APP_STAMP" ]]; then
  PY311=$(find_python 3.11) || { echo "Python 3.11 is required for the application"; exit 1; }
  say "application environment (Python 3.11, about a minute the first time)…"
  [[ -x .venv/bin/python ]] || "$PY311" -m venv .venv
  quiet_pip .venv/bin/pip install -q --upgrade pip
  quiet_pip .venv/bin/pip install -q -r requirements/app.txt
  .venv/bin/python -c "import rasa_sdk, telegram, sqlalchemy, hazm; print('application environment ok')"
  echo "$APP_STAMP" > .venv/.stamp
else
  say "application environment is up to date"
fi

mkdir -p var models
# The word-vector table the NLU pipeline memory-maps, converted offline from the pinned package.
if [[ ! -f models/vectors/persent-w2v.npy || ! -f models/vectors/persent-w2v.vocab || ! -f models/vectors/persent-w2v-sentiment.npz ]]; then
  PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=3 .venv-rasa/bin/python scripts/build_word_vectors.py 2>&1 | grep -E "^word vectors|Error" || true
  [[ -f models/vectors/persent-w2v.npy ]] || { echo "building the word vectors failed"; exit 1; }
fi
.venv/bin/python -m hamdel.storage.db >/dev/null && say "database migrated"
[[ -f .env ]] || { cp .env.example .env && say "created .env from .env.example"; }
