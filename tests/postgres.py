"""A real PostgreSQL server for the tests: Debian's PostgreSQL 15 (`initdb`, `pg_ctl`) started into a
temporary folder on a loopback port, as the `postgres` system user when the tests run as root (the
server refuses to run as root). `python3 run.py test` installs Debian's `postgresql` when `pg_ctl` is
missing, as it installs chromium.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

# Debian puts the binaries in /usr/lib/postgresql/VERSION/bin, without links on PATH.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
USER = "ar"


def binary(name: str) -> str:
    """The path of a PostgreSQL program (`pg_ctl`, `initdb`): on PATH, else Debian's newest."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(DEBIAN_BINARIES.glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"{name} not found: install Debian's postgresql (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One server for the test session; `database()` gives each test a database of its own."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ar-postgres-"))
        self.port = _free_port()
        self._names = itertools.count(1)
        self._as = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        self._run(binary("initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"
        )

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as, *command], capture_output=True, text=True, check=False)
        if result.returncode:
            log = self.folder / "log"
            raise RuntimeError(
                f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
                + (log.read_text() if log.exists() else "")
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self, template: str | None = None) -> str:
        """The URL of a new, empty database (a copy of `template` when given)."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            copy = f" template {template}" if template else ""
            conn.execute(f"create database {name}{copy}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(binary("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
