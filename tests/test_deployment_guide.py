"""docs/deployment.md, followed on this machine (PostgreSQL and nginx): an owner role runs the
migrations, the application role (no superuser, no BYPASSRLS) serves; two `tandem serve`
processes and a worker, started as their systemd units in deploy/systemd/ say (each unit
checked by systemd-analyze verify), run behind nginx with a self-signed certificate, built from
deploy/nginx/tandem.conf; a smoke run over HTTPS (sign in, hand over, claim, submit,
delivered, the webhook received); `tandem check --deploy` passes, then fails naming the
problem with a default secret and with a role that bypasses row-level security; a backup
taken during the run is restored into a fresh database and verified by deploy/restore.sh."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password
from tests.conftest import RESULT, build_world
from tests.database_roles import role_url, roles_and_databases

ROOT = Path(__file__).resolve().parents[1]
TANDEM = str(Path(sys.executable).with_name("tandem"))
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/tandem/.venv/bin/tandem"  # where the guide installs it


def unit_command(unit: str) -> list[str]:
    """The unit's ExecStart, with the guide's installed tandem replaced by this one."""
    lines = (UNITS / unit).read_text().splitlines()
    (start,) = [line.split("=", 1)[1] for line in lines if line.startswith("ExecStart=")]
    command = shlex.split(start)
    assert command[0] == INSTALLED, f"{unit} runs {command[0]}, not the guide's {INSTALLED}"
    return [TANDEM, *command[1:]]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
@pytest.mark.parametrize("unit", sorted(p.name for p in UNITS.glob("*.service")))
def test_the_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    """systemd's own check of each unit (its keys, sections and command), with the guide's
    paths pointed at this machine's; a warning fails it too."""
    text = (UNITS / unit).read_text()
    (tmp_path / "tandem.env").write_text("TANDEM_WORKERS=1\n")
    copy = tmp_path / unit
    copy.write_text(
        text.replace(INSTALLED, TANDEM)
        .replace("/etc/tandem/tandem.env", str(tmp_path / "tandem.env"))
        .replace("WorkingDirectory=/opt/tandem", f"WorkingDirectory={tmp_path}")
    )
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr


OWNER, APP, DATABASE, RESTORED = (
    "tandem_guide_owner",
    "tandem_guide_app",
    "tandem_guide",
    "tandem_guide_restored",
)
PASSWORD = "a guide's long passphrase"
URL = os.environ.get("TANDEM_TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql")
    or not all(shutil.which(tool) for tool in ("nginx", "pg_dump", "pg_restore", "psql")),
    reason="needs PostgreSQL (TANDEM_TEST_DATABASE_URL), nginx and PostgreSQL's client tools",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _url(role: str, database: str) -> str:
    return role_url(URL, role, database)


def _roles_and_database() -> None:
    """Section 2 of the guide: the two roles, the database (and one to restore into), the
    default privileges."""
    roles_and_databases(URL, OWNER, APP, (DATABASE, RESTORED))


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((self.headers.get("Tandem-Signature", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hooks() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    server = HTTPServer(("127.0.0.1", 0), type("H", (_Hook,), {"received": received}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _nginx_conf(
    folder: Path, apis: list[int], https: int, http: int, cert: Path, key: Path
) -> Path:
    """The repository's configuration, with this run's ports, nodes and certificate."""
    site = (ROOT / "deploy/nginx/tandem.conf").read_text()
    site = site.replace(
        "    server 127.0.0.1:8000;\n", "".join(f"    server 127.0.0.1:{p};\n" for p in apis)
    )
    site = site.replace("listen 443 ", f"listen {https} ").replace(
        "listen [::]:443 ", f"listen [::]:{https} "
    )
    site = site.replace("listen 80;", f"listen {http};").replace(
        "listen [::]:80;", f"listen [::]:{http};"
    )
    site = site.replace("/etc/ssl/tandem/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/tandem/privkey.pem", str(key))
    site = site.replace("server_name tandem.example.com;", "server_name localhost;")
    (folder / "site.conf").write_text(site)
    main = folder / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {folder};\n"
        f"  proxy_temp_path {folder};\n  include {folder}/site.conf;\n}}\n"
    )
    return main


def _wait(client: httpx.Client, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not answer in {seconds} s")
        time.sleep(0.3)


def _check(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [TANDEM, "check", "--deploy", "--json", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["exit"] = done.returncode
    return report


def test_the_guide_on_this_machine(
    tmp_path: Path, hooks: tuple[str, list[tuple[str, bytes]]]
) -> None:
    _roles_and_database()
    keys = {
        "TANDEM_SECRET_KEY": base64.b64encode(secrets.token_bytes(48)).decode(),
        "TANDEM_MASTER_KEY": base64.b64encode(secrets.token_bytes(48)).decode(),
    }
    env = {
        **os.environ,
        **keys,
        "TANDEM_DATABASE_URL": _url(APP, DATABASE),
        "TANDEM_COOKIE_SECURE": "true",
        "TANDEM_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "TANDEM_SMTP_PORT": "0",
        "TANDEM_WORKER_INTERVAL_SECONDS": "0.5",
        "TANDEM_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "TANDEM_LOG_FORMAT": "json",
    }
    env.pop("TANDEM_TEST_DATABASE_URL", None)
    owner_env = {**env, "TANDEM_DATABASE_URL": _url(OWNER, DATABASE)}
    subprocess.run([TANDEM, "migrate"], env=owner_env, check=True, capture_output=True, timeout=300)

    # The operation, seeded as an operator would (the owner), with its API tokens.
    settings = Settings(
        database_url=_url(OWNER, DATABASE),
        secret_key=keys["TANDEM_SECRET_KEY"],
        master_key=keys["TANDEM_MASTER_KEY"],
    )
    engine = make_engine(settings.sqlalchemy_url)
    container = Container(
        settings=settings, engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock()
    )
    try:
        world = build_world(container)
        with transaction(container.sessions) as session:
            agent = session.query(User).filter(User.email == "a@provider.example").one()
            set_password(session, agent, PASSWORD)
    finally:
        engine.dispose()

    apis = [_free_port(), _free_port()]
    https, http = _free_port(), _free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, unit: str, port: int | None = None) -> None:
        """A process as its systemd unit in deploy/systemd/ starts it (one API process each
        here, as TANDEM_WORKERS in the environment file would say)."""
        run_env = {**env, "TANDEM_WORKERS": "1", **({"TANDEM_PORT": str(port)} if port else {})}
        out = (logs / f"{name}.log").open("wb")
        command = unit_command(unit)
        processes.append(
            subprocess.Popen(command, env=run_env, stdout=out, stderr=subprocess.STDOUT)
        )

    cert, key = _certificate(tmp_path)
    conf = _nginx_conf(tmp_path, apis, https, http, cert, key)
    try:
        for n, port in enumerate(apis):
            start(f"api-{n}", "tandem-api.service", port=port)
        start("worker", "tandem-worker.service")
        subprocess.run(["nginx", "-t", "-c", str(conf)], check=True, capture_output=True)
        subprocess.run(["nginx", "-c", str(conf)], check=True, capture_output=True)
        with httpx.Client(
            base_url=f"https://localhost:{https}",
            verify=ssl.create_default_context(cafile=str(cert)),
            timeout=30,
        ) as web:
            _wait(web, "/healthz")
            for port in apis:  # both nodes up behind it
                with httpx.Client(base_url=f"http://127.0.0.1:{port}") as node:
                    _wait(node, "/readyz")
            plain = httpx.get(f"http://127.0.0.1:{http}/console", follow_redirects=False)
            assert plain.status_code == 301 and plain.headers["location"].startswith("https://")

            signed = web.post(
                "/api/v1/auth/sign-in", json={"email": "a@provider.example", "password": PASSWORD}
            )
            assert signed.status_code == 200, signed.text
            assert "secure" in signed.headers["set-cookie"].lower()
            assert web.get("/api/v1/me").json()["role"] == "agent"  # by the session cookie
            assert re.fullmatch(r"[0-9a-f]{32}", signed.headers["x-request-id"])  # nginx's

            def as_(who: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {world.tokens[who]}"}

            url, received = hooks
            made = web.post("/api/v1/webhooks", json={"url": url}, headers=as_("client"))
            assert made.status_code == 201, made.text
            item = web.post(
                f"/api/v1/processes/{world.process_id}/work-items",
                json={"payload": {"document_ref": "guide-1.pdf"}},
                headers=as_("client"),
            )
            assert item.status_code == 201, item.text
            lease = web.post("/api/v1/dispatch/claim", headers=as_("agent"))
            assert lease.status_code == 200, lease.text
            submitted = web.post(
                f"/api/v1/leases/{lease.json()['item_id']}/submit",
                json={"attempt": lease.json()["attempt"], "result": RESULT},
                headers=as_("agent"),
            )
            assert submitted.status_code == 200, submitted.text
            seen = web.get(f"/api/v1/work-items/{item.json()['id']}", headers=as_("client"))
            assert seen.json()["state"] == "delivered"
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                time.sleep(0.3)
            assert received, "the worker did not deliver the webhook"
            signature, body = received[0]
            assert (
                signature.startswith("t=")
                and json.loads(body)["data"]["work_item_id"] == item.json()["id"]
            )

        # The deployment check: passes as deployed; names a default secret; names a role
        # that bypasses row-level security (the server's superuser).
        deployed = _check(env)
        assert deployed["ok"] and deployed["exit"] == 0, deployed
        default = _check({**env, "TANDEM_SECRET_KEY": "dev-insecure-change-me"})
        assert default["exit"] == 1 and "secret_key_default" in {
            f["id"] for f in default["findings"]
        }
        superuser = _check(
            {**env, "TANDEM_DATABASE_URL": _url(make_url(URL).username or "postgres", DATABASE)}
        )
        assert superuser["exit"] == 1 and "rls_bypassed" in {f["id"] for f in superuser["findings"]}

        # A backup taken while it runs, restored into a fresh database and verified.
        backups = tmp_path / "backups"
        dump = subprocess.run(
            ["sh", str(ROOT / "deploy/backup.sh"), _url(OWNER, DATABASE), str(backups)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout.strip()
        restored = subprocess.run(
            ["sh", str(ROOT / "deploy/restore.sh"), dump, _url(OWNER, RESTORED), APP],
            env={**env, "PATH": f"{Path(TANDEM).parent}:{env['PATH']}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert restored.stdout.strip().splitlines()[-1].strip() == "1"  # the one work item
    finally:
        subprocess.run(["nginx", "-c", str(conf), "-s", "stop"], capture_output=True)
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    for name in ("api-0", "api-1"):  # each node logged JSON lines, none with the passphrase
        lines = (logs / f"{name}.log").read_text().splitlines()
        assert PASSWORD not in "\n".join(lines)
