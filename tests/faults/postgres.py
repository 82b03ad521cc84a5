"""A throw-away PostgreSQL server for tests: initdb into a temporary folder, loopback only, removed
afterwards. Used by S8 (tests/faults/test_s8_postgresql.py); tests/storage/test_postgresql.py
starts its server the same way. CI installs PostgreSQL first (.ci/run); where no binaries exist the
callers skip, with the reason shown.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
_names = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running throw-away server: `url` has no database name (`…@127.0.0.1:port`); `stop` and
    `start` take it away and bring it back (S8's outage), with its data kept."""

    def __init__(self, bindir: Path, data: Path, port: int, as_postgres: list[str]) -> None:
        self.bindir, self.data, self.port, self._as_postgres = bindir, data, port, as_postgres
        self.url = f"postgresql+psycopg://hamdel@127.0.0.1:{port}"

    def start(self) -> None:
        subprocess.run([*self._as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                        str(self.data / "server.log"), "-w", "-o",
                        f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self._as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                        "stop"], capture_output=True, check=False)


@contextmanager
def throwaway_server() -> Iterator[Server]:
    """Start a server (initdb into a temporary folder), yield it, stop it and remove its folder."""
    bindir = Path(BIN_DIRS[0])
    # Not under pytest's temporary folder: that one is private to root, and initdb refuses to run
    # as root, so the server runs as the `postgres` user in a folder it owns.
    data = Path(tempfile.mkdtemp(prefix="hamdel-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "hamdel",
                    "--encoding", "UTF8", "--locale", "C"], check=True, capture_output=True)
    server = Server(bindir, data, _free_port(), as_postgres)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def fresh_database(server: Server) -> str:
    """Create an empty database on the server; its SQLAlchemy URL."""
    name = f"hamdel_{os.getpid()}_{next(_names)}"
    plain = server.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server.url}/{name}"
