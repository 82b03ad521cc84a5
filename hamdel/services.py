"""Start, watch and stop the two servers Hamdel needs: Rasa (its own Python 3.10 environment) and
the action server (this environment). Used by `make services`, `make chat`, the bot and the
full-stack tests, so they all start the stack the same way.

The model is retrained only when its inputs changed (a fingerprint of config, domain, training
data and the custom component), with progress shown, so the first `make chat` trains and later
ones start in seconds.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hamdel.settings import PROJECT_ROOT, get_settings

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

    def start_rasa(self, model: Path) -> subprocess.Popen[bytes]:
        """(Re)start Rasa on loopback with its API token; it is always `processes[1]`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [str(RASA_BIN), "run", "--enable-api", "--auth-token", self.token, "--model", str(model),
             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml", "--interface", "127.0.0.1",
             "--port", str(self.rasa_port), "--response-timeout", "60"],
            cwd=PROJECT_ROOT, env=self._env(), stdout=(self.log_dir / "rasa.log").open("ab"), stderr=subprocess.STDOUT,
        )
        if len(self.processes) > 1:
            self.processes[1] = process
        else:
            self.processes.append(process)
        return process

    def start_actions(self) -> subprocess.Popen[bytes]:
        """(Re)start the action server; it is always `processes[0]`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "hamdel.action_server", "--host", "127.0.0.1", "--port", str(self.action_port)],
            cwd=PROJECT_ROOT, env=self._env(), stdout=(self.log_dir / "actions.log").open("ab"), stderr=subprocess.STDOUT,
        )
        if self.processes:
            self.processes[0] = process
        else:
            self.processes.append(process)
        return process

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Block until the action server answers and Rasa has loaded its model."""
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
            if all(checks.values()):
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


@contextmanager
def running_stack(**kwargs: object) -> Iterator[Stack]:
    kwargs.setdefault("action_port", get_settings().action_server_port)
    stack = Stack(**kwargs)  # type: ignore[arg-type]
    model = ensure_model()
    print("[hamdel] starting Rasa and the action server…", flush=True)
    stack.start(model)
    try:
        stack.wait_ready()
        print(f"[hamdel] ready: Rasa on {stack.rasa_url}, actions on :{stack.action_port}", flush=True)
        yield stack
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Train if needed, then run Rasa and the action server")
    parser.add_argument("command", choices=["train", "serve"])
    parser.add_argument("--force", action="store_true", help="train even if nothing changed")
    args = parser.parse_args()
    if args.command == "train":
        print(ensure_model(force=args.force, production=False))
        return
    with running_stack():
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
