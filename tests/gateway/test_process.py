"""`exchange gateway` as a real process over real HTTP, with the engine beside it."""

from __future__ import annotations

import signal
import stat
from pathlib import Path

import httpx

from tests import migrated
from tests.accounts.test_kyc import with_check_digit
from tests.engine.test_server import EngineProcess
from tests.launched import beside, start

ROOT = Path(__file__).resolve().parents[2]


def test_gateway_process_serves_applications_and_tokens(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine")
    engine.start()
    config = beside(engine, migrated.data_dir(tmp_path / "gw"))
    admin = {"EXCHANGE_ADMIN_CLIENT_ID": "ops", "EXCHANGE_ADMIN_CLIENT_SECRET": "ops-secret-123"}
    gateway = start("gateway", config, env=admin)
    port = config.gateway.port
    base = f"http://127.0.0.1:{port}"
    try:
        body = {
            "fullName": "Real Http",
            "nationalId": with_check_digit("300000001"),
            "dateOfBirth": "1985-06-01",
            "address": "2 Real St",
            "email": "real@example.ir",
            "phone": "+989121111111",
        }
        created = httpx.post(f"{base}/v1/accounts", json=body, timeout=5)
        assert created.status_code == 201
        application_id = created.json()["applicationId"]
        login = httpx.post(
            f"{base}/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "ops",
                  "client_secret": "ops-secret-123"},
            timeout=5,
        )  # fmt: skip
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        approved = httpx.post(
            f"{base}/v1/admin/kyc/{application_id}/approve", headers=headers, timeout=10
        )
        assert approved.status_code == 200, approved.text
        key = tmp_path / "gw" / "gateway.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    finally:
        gateway.stop()
        engine.kill(signal.SIGTERM)
