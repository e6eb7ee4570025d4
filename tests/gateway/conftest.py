"""A gateway app (in process) in front of a real engine process, and helpers to drive it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from exchange.accounts import new_signing_key
from exchange.gateway import GatewayConfig, Limits, create_app
from tests import migrated
from tests.accounts.test_kyc import with_check_digit
from tests.engine.test_server import EngineProcess

ADMIN = {"client_id": "admin", "client_secret": "admin-secret-for-tests"}
_people = itertools.count(1)
GENEROUS = Limits(
    applications_per_ip_rate=1_000, applications_per_ip_burst=1_000,
    tokens_per_ip_rate=1_000, tokens_per_ip_burst=1_000,
)  # fmt: skip


def make_config(
    tmp_path: Path, engine: EngineProcess, limits: Limits | None = None
) -> GatewayConfig:
    return GatewayConfig(
        db_url=migrated.accounts_db(f"sqlite:///{tmp_path / 'accounts.db'}"),
        engine_endpoint=engine.endpoint,
        engine_publish=engine.publish,
        journal=engine.data_dir / "journal",
        signing_key=new_signing_key(),
        admin_client_id=ADMIN["client_id"],
        admin_client_secret=ADMIN["client_secret"],
        engine_timeout=0.3,
        engine_deadline=3.0,
        limits=limits or GENEROUS,
    )


def token(client: TestClient, client_id: str, secret: str) -> dict[str, str]:
    response = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Trader:
    account_id: int
    client_id: str
    client_secret: str
    headers: dict[str, str]

    @property
    def access_token(self) -> str:
        return self.headers["Authorization"].split()[1]


def open_account(
    client: TestClient, admin: dict[str, str], cash: int = 0, shares: int = 0
) -> Trader:
    """Application -> automated KYC -> approval -> token -> deposits, all through the API."""
    n = next(_people)
    body = {
        "fullName": f"Trader Number {n}",
        "nationalId": with_check_digit(f"{400_000_000 + n:09d}"),
        "dateOfBirth": "1988-03-04",
        "address": "3 Market St, Tehran",
        "email": f"t{n}@example.ir",
        "phone": "+989121234567",
    }
    created = client.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending_review"
    application_id = created.json()["applicationId"]
    approved = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    issued = approved.json()
    account = issued["accountId"]
    for asset, amount in (("IRR", cash), ("FOOLAD", shares)):
        if amount:
            moved = client.post(
                f"/v1/admin/accounts/{account}/deposits",
                json={"asset": asset, "amount": amount, "reference": f"dep-{account}-{asset}"},
                headers=admin,
            )
            assert moved.status_code == 200, moved.text
    headers = token(client, issued["clientId"], issued["clientSecret"])
    return Trader(account, issued["clientId"], issued["clientSecret"], headers)


@pytest.fixture
def client(tmp_path: Path, engine: EngineProcess) -> Iterator[TestClient]:
    with TestClient(create_app(make_config(tmp_path, engine))) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return token(client, ADMIN["client_id"], ADMIN["client_secret"])
