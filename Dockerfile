# Three images from one file, mirroring scripts/setup.sh (which CI runs; there is no Docker engine on
# the build machines, so keep every step here also in that script; these stages are not built in CI):
#   docker build --target rasa    -t hamdel-rasa .     Rasa 3.6 on Python 3.10, model trained at build
#   docker build --target app     -t hamdel-app .      action server, Telegram bot, CLI on Python 3.11
#   docker build --target console -t hamdel-console .  the admins' console: the rasa stage + the app
# docker-compose.yml wires them with PostgreSQL and Redis. All run as the unprivileged user
# `hamdel` (uid 1000), which owns /app/var (spool, inbox journal, heartbeat) and the data the
# console writes (models, nlu_data, evaluation), and nothing else.

FROM python:3.10-slim AS rasa
ENV RASA_TELEMETRY_ENABLED=false PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=3 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Exactly the locked set (scripts/lock.sh): Rasa, hazm, PerSent and psycopg2 for the tracker store.
COPY requirements/rasa.lock requirements/
RUN pip install --require-hashes --no-deps -r requirements/rasa.lock
COPY config.yml domain.yml endpoints.yml endpoints.production.yml credentials.yml ./
COPY nlu_data nlu_data
COPY rasa_addons rasa_addons
COPY hamdel/__init__.py hamdel/persian.py hamdel/
COPY scripts/build_word_vectors.py scripts/
# The word-vector table the pipeline memory-maps (rasa_addons/word_vectors.py), built offline.
RUN python scripts/build_word_vectors.py
RUN rasa train --data nlu_data --out models --fixed-model-name hamdel \
 && useradd --uid 1000 --create-home hamdel && mkdir -p /app/var /app/evaluation \
 && chown -R hamdel:hamdel /app/var /app/models /app/nlu_data /app/evaluation
USER hamdel
EXPOSE 5005
# "/" answers without the token and says nothing about conversations.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=4)"]
# The API token is always on (RASA_TOKEN is required); inside compose's private network only.
# The model the console promoted last (models/production.json, on the shared volume), else the built one.
CMD ["sh", "-c", "model=$(python -c 'import json; print(json.load(open(\"models/production.json\"))[\"model_file\"])' 2>/dev/null || echo hamdel.tar.gz); [ -f \"models/$model\" ] || model=hamdel.tar.gz; exec rasa run --enable-api --auth-token \"${RASA_TOKEN:?set RASA_TOKEN}\" --model \"models/$model\" --endpoints endpoints.production.yml --credentials credentials.yml --port 5005 --response-timeout 60"]

FROM python:3.11-slim AS app
ENV PYTHONPATH=/app PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements/app-runtime.lock requirements/
# The locked runtime subset: test and developer tools (pytest, ruff, mypy, pip-audit, …) stay out.
RUN pip install --require-hashes --no-deps -r requirements/app-runtime.lock \
 && useradd --uid 1000 --create-home hamdel && mkdir -p /app/var && chown hamdel:hamdel /app/var
COPY hamdel hamdel
COPY bot bot
COPY followups followups
COPY actions actions
COPY console console
COPY config config
COPY scripts/vendor_assets.py scripts/
# The console's htmx and Vazirmatn, integrity-checked from the npm registry (no CDN at run time).
RUN python scripts/vendor_assets.py
USER hamdel
EXPOSE 5055
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=4)"]
# The action server by default (migrations run once, in compose's `migrate` service); the bot runs
# the same image with `python -m bot` and its own health check (`python -m bot.health`).
CMD ["python", "-m", "hamdel.action_server", "--host", "0.0.0.0", "--port", "5055"]

# The admins' console trains and evaluates models, so it needs Rasa beside the application: the Rasa
# stage (Python 3.10, the trained model, word vectors, training data) plus Debian's Python 3.11 with
# the application's runtime lock. Paths match a checkout: .venv (3.11) and .venv-rasa (3.10).
FROM rasa AS console
USER root
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/app-runtime.lock requirements/
RUN python3.11 -m venv /app/.venv \
 && /app/.venv/bin/pip install --require-hashes --no-deps -r requirements/app-runtime.lock \
 && python3.10 -m venv --system-site-packages /app/.venv-rasa \
 && printf '#!/bin/sh\nexec /app/.venv-rasa/bin/python -m rasa "$@"\n' > /app/.venv-rasa/bin/rasa \
 && chmod 755 /app/.venv-rasa/bin/rasa
COPY hamdel hamdel
COPY bot bot
COPY followups followups
COPY actions actions
COPY console console
COPY config config
COPY scripts/nlu_eval.py scripts/vendor_assets.py scripts/
COPY tests/__init__.py tests/
COPY tests/nlu tests/nlu
# Rasa's training cache (.rasa/, filled by the build's training) must be the console user's.
RUN /app/.venv/bin/python scripts/vendor_assets.py && mkdir -p /app/.rasa && chown -R hamdel:hamdel /app/.rasa
ENV PATH=/app/.venv/bin:$PATH
USER hamdel
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["python", "-m", "console"]
