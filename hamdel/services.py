"""Start, watch and stop the two servers Hamdel needs: Rasa (its own Python 3.10 environment) and
the action server (this environment). Used by `make services`, `make chat`, the bot and the
full-stack tests, so they all start the stack the same way.

The model is retrained only when its inputs changed (a fingerprint of config, domain, training
data and the custom component), with progress shown, so the first `make chat` trains and later
ones start in seconds.

With `workers` > 1 (`make services WORKERS=n`) Rasa forks n Sanic workers on its one port
(`SANIC_WORKERS`, Rasa's own mechanism) with `endpoints.workers.yml`: the SQLite tracker in WAL mode
and Redis as the lock store, so each conversation is handled by one worker at a time and in order.
Redis is REDIS_HOST, or a private redis-server on loopback that lives and dies with the stack.
`action_workers` > 1 runs the action server as several Sanic workers the same way.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from hamdel.settings import PROJECT_ROOT, get_settings

if TYPE_CHECKING:
    from sanic import Sanic

logger = logging.getLogger(__name__)
RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
MODELS = PROJECT_ROOT / "models"
# requirements/rasa.lock: the exact rasa, tensorflow, hazm and PerSent (whose word vectors the
# pipeline reads) that train and serve the model.
MODEL_INPUTS = (
    "config.yml", "domain.yml", "nlu_data", "rasa_addons", "hamdel/persian.py", "requirements/rasa.lock",
    "scripts/build_word_vectors.py",
)
PRODUCTION_POINTER = "production.json"  # written by the console's deploy (console/deploy.py)
WORKERS_ENDPOINTS = "endpoints.workers.yml"  # endpoints.yml + the Redis lock store
REDIS_SERVER = "/usr/bin/redis-server"  # Debian's redis-server package
NO_REDIS = ("workers > 1 needs Redis for Rasa's lock store: install redis-server (Debian/Ubuntu: "
            "`apt-get install redis-server`) or set REDIS_HOST (and REDIS_PORT, REDIS_PASSWORD) to a running one")
READY_LINE = b"Rasa server is up and running."  # logged by each Rasa worker once its model is loaded
QUIET_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
             "PYTHONWARNINGS": "ignore"}


def fingerprint(nlu_data_dir: Path | None = None) -> str:
    """Hash of everything the trained model depends on.

    The training data is read from `nlu_data_dir` (default `settings.nlu_data_dir`, where the
    console writes labels) but hashed as `nlu_data/…`, so the same data gives the same fingerprint
    wherever it lives."""
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = Path(nlu_data_dir or get_settings().nlu_data_dir) if name == "nlu_data" else PROJECT_ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if path.is_dir() else [path]
        for file in files:
            digest.update(str(Path(name) / file.relative_to(path) if path.is_dir() else name).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS / f"hamdel-{fingerprint()}.tar.gz"


def rasa_env() -> dict[str, str]:
    """Environment of the servers: `endpoints.yml` reads the action server's URL and shared secret."""
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(PROJECT_ROOT)}
    env.setdefault("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    env.setdefault("ACTION_SERVER_SECRET", get_settings().action_secret())
    env.setdefault("TRACKER_DB", str(PROJECT_ROOT / "var" / "tracker.db"))
    return env


def production_model() -> Path | None:
    """The model the console promoted last (`<models_dir>/production.json`), if its file is there."""
    models_dir = get_settings().models_dir
    try:
        name = json.loads((models_dir / PRODUCTION_POINTER).read_text(encoding="utf-8"))["model_file"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    path = models_dir / Path(str(name)).name
    return path if path.is_file() else None


def ensure_model(*, force: bool = False, production: bool = True) -> Path:
    """Train if the current inputs have no model yet; Rasa's own progress bars show while it works.

    `HAMDEL_MODEL` names a model to use as it is (tests that trained their own); otherwise a model
    promoted in the console is served (`production=False`, as `make train` asks, ignores it)."""
    given = os.environ.get("HAMDEL_MODEL")
    if given and not force:
        return Path(given)
    promoted = production_model() if production and not force else None
    if promoted is not None:
        return promoted
    target = model_path()
    if target.exists() and not force:
        return target
    print(f"[hamdel] training the model (about 2–4 minutes on 2 cores) → {target.name}", flush=True)
    MODELS.mkdir(exist_ok=True)
    started = time.monotonic()
    subprocess.run(
        [str(RASA_BIN), "train", "--data", str(get_settings().nlu_data_dir), "--config", "config.yml", "--domain", "domain.yml",
         "--out", str(MODELS), "--fixed-model-name", target.name.removesuffix(".tar.gz")],
        cwd=PROJECT_ROOT, env=rasa_env(), check=True,
    )
    print(f"[hamdel] model ready in {time.monotonic() - started:.0f} s", flush=True)
    return target


@dataclass
class Stack:
    """A running Rasa server and action server."""

    rasa_port: int = 5005
    action_port: int = 5055
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = PROJECT_ROOT / "var" / "log"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: int = 1  # Rasa workers (SANIC_WORKERS); > 1 uses endpoints.workers.yml and Redis locks
    action_workers: int = 1  # action-server workers
    redis: subprocess.Popen[bytes] | None = field(default=None, repr=False)  # the private one, if started
    _redis_env: dict[str, str] = field(default_factory=dict, repr=False)
    _rasa_log_offset: int = field(default=0, repr=False)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def token(self) -> str:
        """Rasa's HTTP API token (always on): RASA_TOKEN, else generated on first run into var/."""
        return self.env.get("RASA_TOKEN") or get_settings().rasa_api_token()

    def _env(self) -> dict[str, str]:
        return {**rasa_env(), **self.env, "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.action_port}/webhook"}

    def start(self, model: Path) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.start_actions()
        self.start_rasa(model)

    def _workers_env(self) -> dict[str, str]:
        """Rasa's environment with `workers` > 1: SANIC_WORKERS and the Redis lock store."""
        env = self._env()
        if not self._redis_env:
            settings = get_settings()
            host = env.get("REDIS_HOST") or settings.redis_host
            if host:
                self._redis_env = {"REDIS_HOST": host, "REDIS_PORT": env.get("REDIS_PORT") or str(settings.redis_port),
                                   "REDIS_PASSWORD": env.get("REDIS_PASSWORD") or settings.redis_password or ""}
            else:
                self.start_redis()
        return {**env, **self._redis_env, "SANIC_WORKERS": str(self.workers)}

    def start_redis(self) -> dict[str, str]:
        """A private redis-server for the lock store: loopback, a spare port, a random password (given
        on stdin, not the command line), nothing written to disk; stopped with the stack. Called by
        `start` when REDIS_HOST is unset, or first to use a private one anyway; returns REDIS_*."""
        binary = shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).is_file() else None)
        if binary is None:
            raise RuntimeError(NO_REDIS)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        port, password = free_port(), secrets.token_urlsafe(24)
        config = (f"bind 127.0.0.1\nport {port}\nrequirepass {password}\nsave \"\"\nappendonly no\n"
                  f"daemonize no\nprotected-mode yes\ndir {self.log_dir}\n")
        self.redis = subprocess.Popen([binary, "-"], stdin=subprocess.PIPE, cwd=self.log_dir,
                                      stdout=(self.log_dir / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        assert self.redis.stdin is not None
        self.redis.stdin.write(config.encode())
        self.redis.stdin.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.redis.poll() is not None:
                raise RuntimeError(f"redis-server exited (code {self.redis.returncode}); see {self.log_dir / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                    connection.sendall(f"AUTH {password}\r\nPING\r\n".encode())
                    answer = b""
                    while b"\r\n" not in answer.partition(b"\r\n")[2] and (chunk := connection.recv(64)):
                        answer += chunk  # "+OK" then "+PONG", or an error
                    if b"+PONG" in answer:
                        self._redis_env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_PASSWORD": password}
                        return self._redis_env
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"redis-server did not answer on port {port}; see {self.log_dir / 'redis.log'}")

    def start_rasa(self, model: Path) -> subprocess.Popen[bytes]:
        """(Re)start Rasa on loopback with its API token; it is always `processes[1]`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / "rasa.log"
        self._rasa_log_offset = log.stat().st_size if log.exists() else 0
        # WAL: readers do not wait for the writer, and a commit appends to the log instead of
        # rewriting pages (docs/performance.md); one worker or several.
        from hamdel.storage.db import use_wal

        use_wal(self._env()["TRACKER_DB"])
        process = subprocess.Popen(
            [str(RASA_BIN), "run", "--enable-api", f"--auth-token={self.token}", "--model", str(model),
             "--endpoints", WORKERS_ENDPOINTS if self.workers > 1 else "endpoints.yml", "--credentials",
             "credentials.yml", "--interface", "127.0.0.1", "--port", str(self.rasa_port), "--response-timeout", "60"],
            cwd=PROJECT_ROOT, env=self._workers_env() if self.workers > 1 else self._env(), stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        if len(self.processes) > 1:
            self.processes[1] = process
        else:
            self.processes.append(process)
        return process

    def start_actions(self) -> subprocess.Popen[bytes]:
        """(Re)start the action server; it is always `processes[0]`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = ([sys.executable, "-m", "hamdel.services", "actions", "--workers", str(self.action_workers)]
                   if self.action_workers > 1 else [sys.executable, "-m", "hamdel.action_server"])
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.action_port)],
            cwd=PROJECT_ROOT, env=self._env(), stdout=(self.log_dir / "actions.log").open("ab"), stderr=subprocess.STDOUT,
        )
        if self.processes:
            self.processes[0] = process
        else:
            self.processes.append(process)
        return process

    def rasa_worker_pids(self) -> list[int]:
        """The Rasa workers' process ids: the children Rasa's main process forked (itself, with one worker)."""
        if len(self.processes) < 2:
            return []
        pid = self.processes[1].pid
        children = [int(child) for task in Path(f"/proc/{pid}/task").glob("*")
                    for child in (task / "children").read_text().split()] if self.workers > 1 else []
        return sorted(children) or [pid]

    def _rasa_workers_up(self) -> bool:
        """With several workers, /status answers once the first one has its model: wait for all."""
        if self.workers == 1:
            return True
        with (self.log_dir / "rasa.log").open("rb") as log:
            log.seek(self._rasa_log_offset)
            return log.read().count(READY_LINE) >= self.workers

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Block until the action server answers and Rasa has loaded its model (in every worker)."""
        deadline = time.monotonic() + timeout
        checks = {f"http://127.0.0.1:{self.action_port}/health": False,
                  f"{self.rasa_url}/status?token={self.token}": False}
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a server exited early (code {process.returncode}); see {self.log_dir}")
            for url, ok in checks.items():
                if not ok:
                    try:
                        response = httpx.get(url, timeout=2)
                        checks[url] = response.status_code == 200 and ("status" not in url or bool(response.json().get("model_file")))
                    except httpx.HTTPError:
                        pass
            if all(checks.values()) and self._rasa_workers_up():
                return
            time.sleep(1)
        raise TimeoutError(f"servers not ready after {timeout:.0f} s; see {self.log_dir}")

    def start_console(self) -> subprocess.Popen[bytes]:
        """Start the admins' web console (`python -m console`) next to the servers, for `make run`;
        its log goes to var/log/console.log so the terminal chat stays readable."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**self._env(), "RASA_URL": self.rasa_url, "RASA_TOKEN": self.token}
        process = subprocess.Popen(
            [sys.executable, "-m", "console"], cwd=PROJECT_ROOT, env=env,
            stdout=(self.log_dir / "console.log").open("ab"), stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.redis is not None:  # after Rasa, which holds its locks there
            self.redis.terminate()
            try:
                self.redis.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.redis.kill()
            self.redis = None
            self._redis_env = {}


def free_port() -> int:
    """A port nobody listens on now, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _action_app(secret: str) -> Sanic:
    """The action server's app as `python -m hamdel.action_server` builds it; each worker calls this."""
    from actions.person_shift import warm_up
    from hamdel.action_server import create_app

    app = create_app(secret)
    app.config.KEEP_ALIVE_TIMEOUT = 120
    app.before_server_start(lambda *_: warm_up())
    return app


def serve_actions(host: str, port: int, workers: int) -> None:
    """The action server as several Sanic workers on one port: Sanic's AppLoader builds the app anew
    in each (spawned) worker, so nothing but the secret crosses the process boundary."""
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    loader = AppLoader(factory=partial(_action_app, get_settings().action_secret()))
    app = loader.load()
    app.prepare(host=host, port=port, workers=workers, access_log=False, motd=False)
    logger.info("action server on %s:%d with %d workers", host, port, workers)
    Sanic.serve(primary=app, app_loader=loader)


@contextmanager
def running_stack(**kwargs: object) -> Iterator[Stack]:
    settings = get_settings()
    kwargs.setdefault("action_port", settings.action_server_port)
    kwargs.setdefault("workers", settings.workers)
    kwargs.setdefault("action_workers", settings.action_workers)
    stack = Stack(**kwargs)  # type: ignore[arg-type]
    model = ensure_model()
    print("[hamdel] starting Rasa and the action server…", flush=True)
    try:
        stack.start(model)
        stack.wait_ready()
        workers = f" ({stack.workers} Rasa workers, {stack.action_workers} action workers)" if stack.workers > 1 or stack.action_workers > 1 else ""
        print(f"[hamdel] ready: Rasa on {stack.rasa_url}, actions on :{stack.action_port}{workers}", flush=True)
        yield stack
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Train if needed, then run Rasa and the action server")
    parser.add_argument("command", choices=["train", "serve", "actions"],
                        help="actions: the action server alone, as --workers Sanic workers")
    parser.add_argument("--force", action="store_true", help="train even if nothing changed")
    parser.add_argument("--host", default=get_settings().action_server_host)
    parser.add_argument("--port", type=int, default=get_settings().action_server_port)
    parser.add_argument("--workers", type=int, default=get_settings().action_workers)
    args = parser.parse_args()
    if args.command == "train":
        print(ensure_model(force=args.force, production=False))
        return
    if args.command == "actions":
        serve_actions(args.host, args.port, args.workers)
        return
    with running_stack():
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
