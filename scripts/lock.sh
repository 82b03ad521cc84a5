#!/usr/bin/env bash
# `make lock`: resolves the hand-written requirement files into hashed lock files, which are what
# scripts/setup.sh and the Dockerfile install (`pip install --require-hashes --no-deps`), so every
# machine gets the same packages, byte for byte. Run it after editing any requirements/*.txt and
# commit the .lock files with the change; setup refuses a lock older than its inputs.
#
#   requirements/rasa.lock         Python 3.10: rasa.txt + rasa-hazm.txt + rasa-vectors.txt, with
#                                  rasa-overrides.txt and rasa-excludes.txt (why: in those files)
#   requirements/app.lock          Python 3.11: app.txt + dev.txt (tests, lint, types, audit, uv)
#   requirements/app-runtime.lock  the subset the production image needs (no test or dev tools)
#
# Versions already in a lock are kept unless an input asks otherwise, so re-locking after adding a
# package changes only what it brings. `scripts/lock.sh --upgrade` (or `-P name`) moves to newer
# releases; any arguments are passed to `uv pip compile`.
#
# Why uv and not pip-tools: pip-compile resolves for the interpreter it runs in, so the 3.10 lock
# would need pip-tools inside the Rasa environment, and it has no way to overrule hazm's exact
# `numpy==1.24.3` pin that tensorflow 2.12 refuses. `uv pip compile` resolves for any Python version
# and platform from one place (--python-version, --python-platform) and has --overrides and
# --excludes for exactly those conflicts, in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PLATFORM=x86_64-unknown-linux-gnu  # the build machines and both Docker images
# Full versions, because some markers compare them (redis wants async-timeout below 3.11.3 only):
# the interpreters scripts/setup.sh finds here; the Docker images' newer patch releases agree.
PY_RASA=3.10.13
PY_APP=3.11.7
# Packages that app.txt lists but only tests need (keep in step with app.txt; one day they move
# to dev.txt and this list goes).
DEV_ONLY_IN_APP_TXT="pytest pytest-asyncio ruff selenium"

# The locks record a hash of their inputs; scripts/setup.sh recomputes it to spot a stale lock.
inputs_hash() { cat "$@" | sha256sum | cut -c1-16; }
mark_inputs() {  # $1 = lock file, rest = its inputs
  local lock="$1"; shift
  local line="# inputs: $(inputs_hash "$@") = sha256 of $* (scripts/setup.sh checks it)"
  sed -i '/^# inputs: /d' "$lock"
  sed -i "2a $line" "$lock"
}

uv_bin() {
  if [[ -x .venv/bin/uv ]]; then echo .venv/bin/uv; return; fi
  # First lock on a machine without the application environment: the pinned uv in a tool venv.
  local version; version=$(sed -nE 's/^uv==([^ ;]+).*/\1/p' requirements/dev.txt)
  local tool="${XDG_CACHE_HOME:-$HOME/.cache}/hamdel-uv-$version"
  if [[ ! -x "$tool/bin/uv" ]]; then
    python3 -m venv "$tool"
    "$tool/bin/pip" install -q "uv==$version" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
    [[ -x "$tool/bin/uv" ]] || { echo "could not install uv==$version" >&2; exit 1; }
  fi
  echo "$tool/bin/uv"
}
UV=$(uv_bin)
compile() {  # $1 = python version, $2 = output, rest = inputs and options
  local py="$1" out="$2"; shift 2
  "$UV" pip compile --quiet --generate-hashes --python-version "$py" --python-platform "$PLATFORM" \
    --custom-compile-command "make lock" --output-file "$out" "$@"
}

RASA_IN=(requirements/rasa.txt requirements/rasa-hazm.txt requirements/rasa-vectors.txt)
RASA_RULES=(requirements/rasa-overrides.txt requirements/rasa-excludes.txt)
compile "$PY_RASA" requirements/rasa.lock "${RASA_IN[@]}" \
  --overrides requirements/rasa-overrides.txt --excludes requirements/rasa-excludes.txt "$@"
mark_inputs requirements/rasa.lock "${RASA_IN[@]}" "${RASA_RULES[@]}"
echo "requirements/rasa.lock: $(grep -cE '^[A-Za-z]' requirements/rasa.lock) packages"

APP_IN=(requirements/app.txt requirements/dev.txt)
compile "$PY_APP" requirements/app.lock "${APP_IN[@]}" "$@"
mark_inputs requirements/app.lock "${APP_IN[@]}"
echo "requirements/app.lock: $(grep -cE '^[A-Za-z]' requirements/app.lock) packages"

# The runtime subset: app.txt without the test tools, held to the versions app.lock chose.
runtime_in=$(mktemp --suffix=.txt); trap 'rm -f "$runtime_in"' EXIT
pattern="^($(tr ' ' '|' <<<"$DEV_ONLY_IN_APP_TXT"))([<>=!~ ;\[]|$)"
grep -viE "$pattern" requirements/app.txt > "$runtime_in"
compile "$PY_APP" requirements/app-runtime.lock "$runtime_in" --constraints requirements/app.lock --no-annotate "$@"
sed -i "s|$runtime_in|requirements/app.txt without: $DEV_ONLY_IN_APP_TXT|" requirements/app-runtime.lock
mark_inputs requirements/app-runtime.lock "${APP_IN[@]}"
echo "requirements/app-runtime.lock: $(grep -cE '^[A-Za-z]' requirements/app-runtime.lock) packages"
