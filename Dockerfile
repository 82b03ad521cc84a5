# Two images from one file, mirroring scripts/setup.sh (which CI runs; there is no Docker engine on
# the build machines, so keep every step here also in that script):
#   docker build --target rasa -t hamdel-rasa .   Rasa 3.6 on Python 3.10, model trained at build
#   docker build --target app  -t hamdel-app  .   action server, Telegram bot, CLI on Python 3.11
# docker-compose.yml wires them with PostgreSQL and Redis.

FROM python:3.10-slim AS rasa
ENV RASA_TELEMETRY_ENABLED=false PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=3 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements/rasa.txt requirements/rasa-hazm.txt requirements/
RUN pip install -r requirements/rasa.txt \
 && pip freeze | grep -iE '^(numpy|scikit-learn|scipy|tensorflow|tensorflow-cpu|protobuf|sqlalchemy)==' > /tmp/constraints.txt \
 && pip install --no-deps hazm==0.10.0 \
 && pip install -c /tmp/constraints.txt -r requirements/rasa-hazm.txt psycopg2-binary
COPY config.yml domain.yml endpoints.yml endpoints.production.yml credentials.yml ./
COPY nlu_data nlu_data
COPY rasa_addons rasa_addons
COPY hamdel/__init__.py hamdel/persian.py hamdel/
RUN rasa train --data nlu_data --out models --fixed-model-name hamdel
USER 1000
EXPOSE 5005
CMD ["rasa", "run", "--enable-api", "--model", "models/hamdel.tar.gz", "--endpoints", "endpoints.production.yml", \
     "--credentials", "credentials.yml", "--port", "5005"]

FROM python:3.11-slim AS app
ENV PYTHONPATH=/app PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements/app.txt requirements/
RUN pip install -r requirements/app.txt
COPY . .
USER 1000
EXPOSE 5055
# The action server by default; the bot runs the same image with `python -m bot`.
CMD ["sh", "-c", "python -m hamdel.storage.db && python -m rasa_sdk --actions actions --port 5055"]
