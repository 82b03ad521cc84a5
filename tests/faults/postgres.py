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


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a server and yield its URL without a database name (`…@127.0.0.1:port`)."""
    bindir = Path(BIN_DIRS[0])
    # Not under pytest's temporary folder: that one is private to root, and initdb refuses to run
    # as root, so the server runs as the `postgres` user in a folder it owns.
    data = Path(tempfile.mkdtemp(prefix="hamdel-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "hamdel",
                    "--encoding", "UTF8", "--locale", "C"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w",
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://hamdel@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, check=False)
        shutil.rmtree(data, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server; its SQLAlchemy URL."""
    name = f"hamdel_{os.getpid()}_{next(_names)}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"
