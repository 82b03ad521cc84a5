"""The console as an admin meets it: a real Rasa + action server, the console as its own process
(`python -m console`), and a headless Chromium driven by selenium.

Everything the console writes (database, tracker store, training data, golden set, models, secrets,
logs) lives in one temporary directory; the repository's `nlu_data/`, `evaluation/`, `models/` and
`var/` are only read. The trained model comes from `HAMDEL_MODEL` or `hamdel.services.model_path()`
(`make test` trains it before the integration step); without one these tests skip. Without Chromium
they skip too, except in CI (`CI=true`), where a missing browser is a failure: CI installs it.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from hamdel.services import Stack, model_path
from hamdel.settings import PROJECT_ROOT
from hamdel.storage.db import migrate

CHROMIUM = Path(os.environ.get("HAMDEL_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("HAMDEL_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = PROJECT_ROOT / "results" / "console"
DESKTOP, PHONE = (1280, 900), (390, 844)
T = TypeVar("T")


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it), so parallel stacks never collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def wait_until(what: str, check: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """Poll `check()` until it returns something truthy (returned), else fail saying what never came.

    Errors count as "not yet" (a page htmx is replacing, a server still loading) and the last one
    is named in the failure."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 — polled again until the deadline
            last_error = error
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last_error!r})" if last_error else ""))


def print_tail(log: Path, lines: int = 25) -> None:
    if log.exists():
        print(f"--- {log.name} (tail) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))


@dataclass(frozen=True)
class LiveStack:
    """Rasa and the action server, as the console and the customer's front end see them."""

    stack: Stack
    database_url: str
    tracker_db: Path
    model: Path

    @property
    def rasa_url(self) -> str:
        return self.stack.rasa_url

    @property
    def token(self) -> str:
        return self.stack.token

    def status(self) -> dict[str, Any]:
        response = httpx.get(f"{self.rasa_url}/status", params={"token": self.token}, timeout=30)
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    def parse(self, text: str) -> dict[str, Any]:
        response = httpx.post(f"{self.rasa_url}/model/parse", params={"token": self.token}, json={"text": text},
                              timeout=30)
        response.raise_for_status()
        parsed: dict[str, Any] = response.json()
        return parsed

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        """A customer's message through Rasa's REST channel, as a front end sends it."""
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", params={"token": self.token},
                              json={"sender": sender, "message": text}, timeout=120)
        response.raise_for_status()
        answers: list[dict[str, Any]] = response.json()
        return answers


@dataclass(frozen=True)
class LiveConsole:
    """The console process and the files it works on."""

    url: str
    username: str
    password: str
    nlu_data_dir: Path
    golden_set_path: Path
    models_dir: Path
    log: Path


@pytest.fixture(scope="module")
def trained_model() -> Path:
    given = os.environ.get("HAMDEL_MODEL")
    model = Path(given) if given else model_path()
    if not model.is_file():
        pytest.skip(f"no trained model at {model} (make train, or HAMDEL_MODEL=<path>); make test trains it first")
    return model


@pytest.fixture(scope="module")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-e2e")


@pytest.fixture(scope="module")
def live_stack(e2e_dir: Path, trained_model: Path) -> Iterator[LiveStack]:
    """Rasa (with its API and token) and the action server on free ports, sharing a temporary
    database with the console; Rasa's tracker store is a temporary SQLite file the inbox reads.

    Rasa serves the model from the console's models directory, so the model in production is one
    the console's registry can see."""
    models_dir = e2e_dir / "models"
    models_dir.mkdir()
    model = models_dir / trained_model.name
    model.symlink_to(trained_model.resolve())
    database_url = f"sqlite:///{e2e_dir / 'hamdel.db'}"
    migrate(database_url)
    tracker_db = e2e_dir / "tracker.db"
    stack = Stack(rasa_port=free_port(), action_port=free_port(), log_dir=e2e_dir / "log",
                  env={"DATABASE_URL": database_url, "TRACKER_DB": str(tracker_db),
                       "HAMDEL_SPOOL": str(e2e_dir / "spool.jsonl"), "HAMDEL_SECRETS_DIR": str(e2e_dir / "secrets"),
                       "RASA_TOKEN": secrets.token_urlsafe(32), "ACTION_SERVER_SECRET": secrets.token_urlsafe(32)})
    stack.start(model)
    try:
        stack.wait_ready(timeout=600)
        yield LiveStack(stack=stack, database_url=database_url, tracker_db=tracker_db, model=model)
    finally:
        stack.stop()
        for log in sorted((e2e_dir / "log").glob("*.log")):
            print_tail(log)


@pytest.fixture(scope="module")
def live_console(e2e_dir: Path, live_stack: LiveStack) -> Iterator[LiveConsole]:
    """`python -m console` on a free port, configured only through its environment, as `make admin`
    runs it: a copy of the training data, an empty golden set location, the models directory Rasa
    serves from, and the first admin from ADMIN_BOOTSTRAP_USER / ADMIN_BOOTSTRAP_PASSWORD."""
    nlu_data = e2e_dir / "nlu_data"
    shutil.copytree(PROJECT_ROOT / "nlu_data", nlu_data)
    golden = e2e_dir / "evaluation" / "golden.yml"
    repo_golden = PROJECT_ROOT / "evaluation" / "golden.yml"
    golden.parent.mkdir()
    if repo_golden.is_file():
        shutil.copy2(repo_golden, golden)
    port = free_port()
    username, password = "e2e-admin", secrets.token_urlsafe(18)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ENVIRONMENT": "development",
           "DATABASE_URL": live_stack.database_url, "TRACKER_DB_URL": f"sqlite:///{live_stack.tracker_db}",
           "NLU_DATA_DIR": str(nlu_data), "GOLDEN_SET_PATH": str(golden), "MODELS_DIR": str(live_stack.model.parent),
           "RASA_URL": live_stack.rasa_url, "RASA_TOKEN": live_stack.token,
           "ADMIN_HOST": "127.0.0.1", "ADMIN_PORT": str(port),
           "ADMIN_BOOTSTRAP_USER": username, "ADMIN_BOOTSTRAP_PASSWORD": password,
           "HAMDEL_SECRETS_DIR": str(e2e_dir / "secrets"), "HAMDEL_SPOOL": str(e2e_dir / "spool.jsonl"),
           "RASA_TELEMETRY_ENABLED": "false"}
    log = e2e_dir / "log" / "console.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "console"], cwd=PROJECT_ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the console exited with code {process.returncode}; see {log}")
            return httpx.get(f"{url}/health", timeout=3).status_code == 200

        wait_until("the console answers /health", ready, timeout=120)
        yield LiveConsole(url=url, username=username, password=password, nlu_data_dir=nlu_data,
                          golden_set_path=golden, models_dir=live_stack.model.parent, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        print_tail(log, 40)


def _chromium(size: tuple[int, int]) -> WebDriver:
    """A headless Chromium of the given window size (selenium 4, Debian's chromium + chromedriver)."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        message = f"Chromium not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium chromium-driver"
        if in_ci():
            pytest.fail(message + " — CI installs them in .ci/run")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", "--lang=fa-IR", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*size)
    driver.set_page_load_timeout(900)  # promoting waits for Rasa to load the model
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """A desktop-size window (1280×900)."""
    driver = _chromium(DESKTOP)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def phone_browser() -> Iterator[WebDriver]:
    """A phone-size window (390×844), for the dashboard's screenshot on a phone."""
    driver = _chromium(PHONE)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
