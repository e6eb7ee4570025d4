"""Gateway: applications, KYC review, approval (opens the account in a real engine), tokens."""

from __future__ import annotations

import asyncio
import signal

import pytest
from starlette.testclient import TestClient

from exchange.core import Deposit
from exchange.core.events import BalanceChanged
from exchange.engine.client import EngineClient
from tests.accounts.test_kyc import with_check_digit
from tests.engine.test_server import EngineProcess
from tests.gateway.conftest import ADMIN, open_account


def application(n: int, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "fullName": f"Test Person {n}",
        "nationalId": with_check_digit(f"{200_000_000 + n:09d}"),
        "dateOfBirth": "1990-01-01",
        "address": "1 Test St, Tehran",
        "email": f"p{n}@example.ir",
        "phone": "+989120000000",
    }
    body.update(changes)
    return body


def token(client: TestClient, credentials: dict[str, str], **extra: str) -> str:
    response = client.post("/v1/oauth/token", json={**credentials, **extra})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    return str(body["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_application_review_approval_and_trading_token(
    client: TestClient, engine: EngineProcess
) -> None:
    response = client.post("/v1/accounts", json=application(1))
    assert response.status_code == 201
    application_id = response.json()["applicationId"]
    assert response.json()["status"] == "pending_review"

    admin = bearer(token(client, ADMIN))
    listed = client.get("/v1/admin/kyc?status=pending_review", headers=admin).json()
    assert [a["applicationId"] for a in listed["applications"]] == [application_id]

    approved = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    issued = approved.json()
    assert issued["accountId"] >= 1  # the engine's id, not the application's (review M1)
    assert set(issued) == {"accountId", "clientId", "clientSecret"}
    again = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "NOT_PENDING"

    # The account is open in the engine: a deposit into it is applied.
    async def deposit() -> list[object]:
        engine_client = EngineClient(engine.endpoint, keys=engine.keys(), timeout=0.3)
        try:
            reply = await engine_client.submit(
                Deposit(account=issued["accountId"], asset="IRR", amount=1_000, reference="t-1")
            )
            return list(reply.events)
        finally:
            await engine_client.close()

    assert [type(e) for e in asyncio.run(deposit())] == [BalanceChanged]

    trader = {"client_id": issued["clientId"], "client_secret": issued["clientSecret"]}
    trading = token(client, trader)
    assert client.get("/v1/admin/kyc", headers=bearer(trading)).status_code == 403
    escalate = client.post("/v1/oauth/token", json={**trader, "scope": "trade admin"})
    assert escalate.status_code == 403
    form = client.post(
        "/v1/oauth/token",
        data={**trader, "grant_type": "client_credentials", "scope": "read"},
    )
    assert form.status_code == 200 and form.json()["scope"] == "read"
    wrong = client.post("/v1/oauth/token", json={**trader, "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_CLIENT"


def test_automated_rejection_and_manual_rejection(client: TestClient) -> None:
    bad = client.post("/v1/accounts", json=application(2, nationalId="1111111111"))
    assert bad.status_code == 201 and bad.json()["status"] == "rejected"
    assert bad.json()["reasons"] == [{"code": "INVALID_NATIONAL_ID", "field": "national_id"}]
    young = client.post("/v1/accounts", json=application(3, dateOfBirth="2015-01-01"))
    assert young.json()["reasons"][0]["code"] == "UNDER_AGE"
    pending = client.post("/v1/accounts", json=application(4)).json()["applicationId"]
    duplicate = client.post("/v1/accounts", json=application(4)).json()
    # The applicant is not told the identity is known (review M5); compliance sees it.
    assert (duplicate["status"], duplicate["reasons"]) == ("pending_review", [])
    admin = bearer(token(client, ADMIN))
    rejected = client.post(
        f"/v1/admin/kyc/{pending}/reject", headers=admin, json={"reason": "unreadable"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert client.post(f"/v1/admin/kyc/{pending}/approve", headers=admin).status_code == 409
    assert client.post("/v1/admin/kyc/987654/approve", headers=admin).status_code == 404
    assert client.post("/v1/admin/kyc/abc/approve", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (application(5, extra="field"), 422),
        (application(5, dateOfBirth="yesterday"), 422),
        (application(5, fullName=12), 422),
        (application(5, address="x" * 301), 422),
        ({"fullName": "only"}, 422),
    ],
)
def test_malformed_applications(client: TestClient, body: dict[str, object], status: int) -> None:
    response = client.post("/v1/accounts", json=body)
    assert response.status_code == status
    assert set(response.json()) == {"error"} and response.json()["error"]["code"]


def test_limits_and_authentication_errors(client: TestClient) -> None:
    huge = client.post(
        "/v1/accounts", content=b"{" + b" " * 20_000 + b"}",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert huge.status_code == 413
    text = client.post("/v1/accounts", content=b"x", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    assert client.get("/v1/admin/kyc").status_code == 401
    assert client.get("/v1/admin/kyc", headers=bearer("forged.token.value")).status_code == 401
    admin = bearer(token(client, ADMIN))
    assert client.get("/v1/admin/kyc?status=bogus", headers=admin).status_code == 422
    assert client.get("/v1/admin/kyc?surprise=1", headers=admin).status_code == 422
    grant = client.post("/v1/oauth/token", json={**ADMIN, "grant_type": "password"})
    assert grant.status_code == 400
    assert client.get("/healthz").json() == {"status": "ok"}


def test_approval_while_the_engine_is_down_changes_nothing(
    client: TestClient, engine: EngineProcess
) -> None:
    application_id = client.post("/v1/accounts", json=application(6)).json()["applicationId"]
    admin = bearer(token(client, ADMIN))
    engine.kill(signal.SIGKILL)
    down = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert down.status_code == 503 and down.headers["Retry-After"] == "1"
    listed = client.get("/v1/admin/kyc", headers=admin).json()["applications"]
    assert [a["applicationId"] for a in listed] == [application_id]  # still pending
    engine.start()
    retried = client.post(f"/v1/admin/kyc/{application_id}/approve", headers=admin)
    assert retried.status_code == 200, retried.text


def test_an_officer_files_applications_with_a_compliance_token(
    client: TestClient, admin: dict[str, str]
) -> None:
    """Past the per-address limit with the officer's token; a trader's token is refused."""
    for n in range(8):
        filed = client.post("/v1/accounts", json=application(900 + n), headers=admin)
        assert filed.status_code == 201, filed.text
    trader = open_account(client, admin)
    refused = client.post("/v1/accounts", json=application(950), headers=trader.headers)
    assert refused.status_code == 403
    forged = client.post("/v1/accounts", json=application(951), headers=bearer("not-a-token"))
    assert forged.status_code == 401


def test_h1_failed_attempts_throttled_over_rest(client: TestClient) -> None:
    """After five wrong secrets for a client id, its token requests get 429 with Retry-After."""
    wrong = {**ADMIN, "client_secret": "not-the-secret"}
    for _ in range(5):
        assert client.post("/v1/oauth/token", json=wrong).status_code == 401
    throttled = client.post("/v1/oauth/token", json=ADMIN)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] != "INVALID_CLIENT"
