"""``askpro tokens create|list|revoke`` against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import create_company


def _askpro(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ASKPRO_DATABASE_URL": database_url, "ASKPRO_LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-m", "askpro", "tokens", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_create_list_revoke(
    database_url: str, session: AsyncSession, api: httpx.AsyncClient
) -> None:
    company = await create_company(session, name="Salon CLI")
    await session.commit()
    created = _askpro(
        database_url,
        "create",
        "--company",
        str(company.id),
        "--name",
        "widget",
        "--scopes",
        "staff:read,services:read",
        "--expires-in",
        "90d",
    )
    assert created.returncode == 0, created.stderr
    plaintext = created.stdout.strip()
    assert plaintext.startswith("askpro_")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert (await api.get("/api/v1/staff", headers=headers)).status_code == 200

    listed = _askpro(database_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert "widget" in listed.stdout
    assert plaintext not in listed.stdout
    assert plaintext.split("_", 2)[2] not in listed.stdout + listed.stderr

    token_id = created.stderr.split("#", 1)[1].split(" ", 1)[0]
    revoked = _askpro(database_url, "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert (await api.get("/api/v1/staff", headers=headers)).status_code == 401


def test_create_rejects_unknown_scopes_and_platform_scopes(database_url: str) -> None:
    unknown = _askpro(database_url, "create", "--name", "x", "--scopes", "root")
    assert unknown.returncode == 2
    assert "unknown scope" in unknown.stderr
    bad_duration = _askpro(
        database_url, "create", "--name", "x", "--scopes", "staff:read", "--expires-in", "soon"
    )
    assert bad_duration.returncode == 2
    assert "Traceback" not in bad_duration.stderr


async def test_star_on_a_company_token_means_every_scope_a_company_token_can_hold(
    database_url: str, session: AsyncSession
) -> None:
    from askpro.auth.scopes import COMPANY_SCOPES

    company = await create_company(session, name="Salon Star")
    await session.commit()
    created = _askpro(
        database_url, "create", "--company", str(company.id), "--name", "all", "--scopes", "*"
    )
    assert created.returncode == 0, created.stderr
    listed = _askpro(database_url, "list", "--company", str(company.id), "--json")
    assert listed.returncode == 0, listed.stderr
    [token] = json.loads(listed.stdout)
    assert token["scopes"] == sorted(scope.value for scope in COMPANY_SCOPES)
    platform = _askpro(database_url, "create", "--name", "ops", "--scopes", "*")
    assert platform.returncode == 0, platform.stderr
    assert "companies:read" in platform.stderr, "a platform token's '*' includes them"
