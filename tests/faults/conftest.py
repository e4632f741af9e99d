"""A PostgreSQL server of the tests' own, started and stopped by them (never the machine's
shared one), so that fault tests can hold its locks, exhaust its pool and restart it."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tandem.core.migrate import upgrade


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivatePostgres:
    """One server in a temporary directory: its URL, and what a fault test does to it."""

    bin: Path
    data: Path
    port: int
    as_user: list[str]  # PostgreSQL refuses to run as root: run it as "postgres" then

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/tandem"

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data / "db"), "-o", options]
        log = ["-l", str(self.data / "server.log")]
        subprocess.run([*self.as_user, *command, *log, *args], check=True, capture_output=True)

    def start(self) -> None:
        self.ctl("start", "-w", "-t", "30")

    def stop(self) -> None:
        self.ctl("stop", "-m", "fast", "-w")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url.replace("/tandem", "/postgres"), connect_timeout=1):
                    return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    binaries = _binaries()
    if binaries is None:
        pytest.skip("fault tests need PostgreSQL's server binaries (apt-get install postgresql)")
    data = Path(tempfile.mkdtemp(prefix="tandem-faults-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(data, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PrivatePostgres(binaries, data, _free_port(), as_user)
    subprocess.run(
        [
            *as_user,
            str(binaries / "initdb"),
            "-D",
            str(data / "db"),
            "-U",
            "postgres",
            "-A",
            "trust",
        ],
        check=True,
        capture_output=True,
    )
    server.start()
    try:
        server.wait_ready()
        with psycopg.connect(server.url.replace("/tandem", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE tandem")
        upgrade(server.url.replace("postgresql://", "postgresql+psycopg://"))
        yield server
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data / "db"), "stop", "-m", "immediate"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)
