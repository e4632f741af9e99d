"""Section 2 of docs/deployment.md for the tests that follow it on PostgreSQL: an owner role
for migrations, an application role without superuser or BYPASSRLS, databases owned by the
owner, and the default privileges that give the application its tables."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def role_url(server_url: str, role: str, database: str) -> str:
    """The server's URL for another role and database (trust authentication: no password)."""
    server = make_url(server_url)
    return str(server.set(username=role, password=None, database=database).render_as_string())


def roles_and_databases(server_url: str, owner: str, app: str, databases: Sequence[str]) -> None:
    """The two roles (kept if they exist), `databases` made afresh for the owner, and the
    owner's default privileges for the application in the first of them."""
    server = make_url(server_url)
    with psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.username,
        dbname=server.database,
        autocommit=True,
    ) as admin:
        for database in databases:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        for role, options in ((owner, "LOGIN"), (app, "LOGIN NOSUPERUSER NOBYPASSRLS")):
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                admin.execute(sql.SQL(f"CREATE ROLE {{}} {options}").format(sql.Identifier(role)))
        for database in databases:
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(owner)
                )
            )
    with psycopg.connect(role_url(server_url, owner, databases[0]), autocommit=True) as conn:
        for grant in (
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        ):
            names = {"owner": sql.Identifier(owner), "app": sql.Identifier(app)}
            conn.execute(sql.SQL(grant).format(**names))
