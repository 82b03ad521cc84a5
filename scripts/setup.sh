#!/usr/bin/env bash
# Creates both Python environments; safe to run again (it only does what is missing).
#   .venv-rasa  Python 3.10: the Rasa server (rasa 3.6.21 refuses Python 3.11) + hazm for the
#               normalisation component
#   .venv       Python 3.11: action server, Telegram bot, storage, tests
# Both install exactly what requirements/*.lock say (`pip install --require-hashes --no-deps`; the
# locks come from the hand-written requirements/*.txt through `make lock`), and packages a lock does
# not list are removed, so a machine holds what CI tested and nothing else. A stamp file per
# environment records the hash of its lock (and of this script), so a new lock triggers a
# reinstall and nothing else does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
# Runs pip without the noise of this machine's pip.conf; pip's own exit status is kept.
quiet_pip() {
  local status=0
  "$@" > >(grep -vE "is ignored: it is neither a file nor a directory|legacy 'setup.py install' method|^\s*$" || true) 2>&1 || status=$?
  return "$status"
}

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

# A lock made before its inputs last changed would install something nobody asked for.
check_lock() {  # $1 = lock; its inputs are named on its "# inputs:" line (scripts/lock.sh writes it)
  local line recorded inputs
  line=$(grep -m1 '^# inputs: ' "$1") || { echo "$1 has no inputs line: run make lock"; exit 1; }
  recorded=$(cut -d' ' -f3 <<<"$line")
  read -r -a inputs <<<"$(sed -E 's/^# inputs: [0-9a-f]+ = sha256 of (.*) \(scripts.*$/\1/' <<<"$line")"
  if [[ "$(stamp_of "${inputs[@]}")" != "$recorded" ]]; then
    echo "${inputs[*]} changed after $1 was made: run \`make lock\` and commit the lock files"; exit 1
  fi
}
check_lock requirements/rasa.lock
check_lock requirements/app.lock

# Installs a lock into an environment and removes what the lock does not list (pip itself stays).
install_lock() {  # $1 = environment, $2 = lock
  local env="$1" lock="$2" extra
  quiet_pip "$env/bin/pip" install -q --require-hashes --no-deps -r "$lock"
  extra=$(comm -23 <("$env/bin/pip" freeze --all 2>/dev/null | sed -E 's/[=@ ].*//' | tr 'A-Z_.' 'a-z--' | sort -u) \
                   <(grep -E '^[A-Za-z]' "$lock" | sed -E 's/[=@ ].*//' | tr 'A-Z_.' 'a-z--' | sort -u) | grep -vx pip || true)
  if [[ -n "$extra" ]]; then
    say "removing what $lock does not list: $(tr '\n' ' ' <<<"$extra")"
    # shellcheck disable=SC2086
    quiet_pip "$env/bin/pip" uninstall -q -y $extra
  fi
}

RASA_STAMP=$(stamp_of requirements/rasa.lock scripts/setup.sh)
APP_STAMP=$(stamp_of requirements/app.lock scripts/setup.sh)

if [[ ! -f .venv-rasa/.stamp || "$(cat .venv-rasa/.stamp)" != "$RASA_STAMP" ]]; then
  PY310=$(find_python 3.10) || { echo "Python 3.10 is required for Rasa 3.6 (e.g. pyenv install 3.10)"; exit 1; }
  say "Rasa environment (Python 3.10, about 2 minutes the first time)…"
  [[ -x .venv-rasa/bin/python ]] || "$PY310" -m venv .venv-rasa
  # One consistent set: Rasa, hazm (its numpy pin overruled for tensorflow 2.12) and PerSent's word
  # vectors (its dependencies left out); the reasons are in requirements/rasa-overrides.txt.
  install_lock .venv-rasa requirements/rasa.lock
  # PerSent is looked up, not imported: importing it needs pandas, which we leave out on purpose.
  .venv-rasa/bin/python -c "import importlib.util, rasa, hazm; from hazm import Normalizer; assert importlib.util.find_spec('PerSent'), 'persent missing'; print('rasa', rasa.__version__, '+ hazm + persent ok')"
  echo "$RASA_STAMP" > .venv-rasa/.stamp
else
  say "Rasa environment is up to date"
fi

if [[ ! -f .venv/.stamp || "$(cat .venv/.stamp)" != "$APP_STAMP" ]]; then
  PY311=$(find_python 3.11) || { echo "Python 3.11 is required for the application"; exit 1; }
  say "application environment (Python 3.11, about a minute the first time)…"
  [[ -x .venv/bin/python ]] || "$PY311" -m venv .venv
  install_lock .venv requirements/app.lock
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
# The console's browser assets (htmx, Vazirmatn) from the npm registry, integrity-checked; no CDN at run time.
.venv/bin/python scripts/vendor_assets.py >/dev/null && say "console assets in place"
.venv/bin/python -m hamdel.storage.db >/dev/null && say "database migrated"
[[ -f .env ]] || { cp .env.example .env && say "created .env from .env.example"; }
