"""Access can be withdrawn (review H5, L3): revocation ends tokens, streams and FIX sessions.

On 56b90ba nothing could revoke a credential: its tokens lasted 15 minutes, its
streams and FIX sessions as long as their connections, and a changed admin secret
in the environment was ignored (the old one stayed valid).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exchange.gateway import create_app
from tests.engine.test_server import EngineProcess
from tests.fix.client import FixClient
from tests.fix.test_gateway import (
    Fix,
    fix,  # noqa: F401 (the fixture)
)
from tests.gateway.conftest import ADMIN, make_config, open_account, token
from tests.gateway.test_e2e import ADMIN as E2E_ADMIN
from tests.gateway.test_e2e import GatewayProcess, login


def test_h5_revoked_credential_loses_token_stream_and_fix(fix: Fix) -> None:  # noqa: F811
    client_id, secret = fix.credentials[1]
    gateway = GatewayProcess(fix.data, fix.engine)  # the FIX acceptor's accounts database
    gateway.start()
    session = FixClient(fix.port, client_id, secret)
    try:
        with httpx.Client(base_url=gateway.base) as http:
            trader = login(http, client_id, secret)
            admin = login(http, *E2E_ADMIN)
            assert http.get("/v1/account", headers=trader).status_code == 200
            assert session.logon().msg_type == "A"
            bearer = trader["Authorization"].split()[1]
            ws_url = f"ws://127.0.0.1:{gateway.port}/v1/stream?access_token={bearer}"
            with connect(ws_url) as stream:
                assert '"subscribed"' in str(stream.recv(timeout=10))
                listed = http.get("/v1/admin/accounts/1/credentials", headers=admin).json()
                assert listed == {"credentials": [{"clientId": client_id, "revoked": False}]}
                revoked = http.post(f"/v1/admin/credentials/{client_id}/revoke", headers=admin)
                assert revoked.status_code == 200, revoked.text
                with pytest.raises(ConnectionClosed) as closed:
                    stream.recv(timeout=5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert http.get("/v1/account", headers=trader).status_code == 401
            again = http.post("/v1/oauth/token", data={
                "grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret})  # fmt: skip
            assert again.status_code == 401
            logout = session.expect(lambda m: m.msg_type == "5", timeout=5)
            assert "revoked" in (logout.get(58) or "")
            assert session.closed(timeout=5)
            # Rotation: a new credential for the account works; the list shows both.
            issued = http.post("/v1/admin/accounts/1/credentials", headers=admin)
            assert issued.status_code == 201
            fresh = issued.json()
            assert (
                http.get(
                    "/v1/account", headers=login(http, fresh["clientId"], fresh["clientSecret"])
                ).json()["accountId"]
                == 1
            )
    finally:
        session.close()
        gateway.stop()


def test_h5_admin_secret_rotation_takes_effect_at_the_next_start(
    tmp_path: Path, engine: EngineProcess
) -> None:
    config = make_config(tmp_path, engine)
    with TestClient(create_app(config)) as client:
        assert client.post("/v1/oauth/token", data={
            "grant_type": "client_credentials", **ADMIN}).status_code == 200  # fmt: skip
    rotated = dataclasses.replace(config, admin_client_secret="a-new-admin-secret-2026")
    with TestClient(create_app(rotated)) as client:
        old = client.post("/v1/oauth/token", data={"grant_type": "client_credentials", **ADMIN})
        assert old.status_code == 401
        new = client.post("/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": ADMIN["client_id"],
            "client_secret": "a-new-admin-secret-2026"})  # fmt: skip
        assert new.status_code == 200


def test_l3_stream_closes_at_token_expiry(tmp_path: Path, engine: EngineProcess) -> None:
    config = dataclasses.replace(make_config(tmp_path, engine), token_ttl_seconds=2)
    with TestClient(create_app(config)) as client:
        admin = token(client, ADMIN["client_id"], ADMIN["client_secret"])
        trader = open_account(client, admin)
        started = time.monotonic()
        with client.websocket_connect(f"/v1/stream?access_token={trader.access_token}") as ws:
            assert ws.receive_json(mode="binary")["type"] == "subscribed"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json(mode="binary")
        assert closed.value.code == 1008
        assert time.monotonic() - started < 30  # at expiry, not never


def test_streams_beyond_the_per_account_cap_are_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    """The cap holds (since review L3 its slot is taken with no await after the count, so
    concurrent connects cannot all pass it; that ordering is in stream.py)."""
    trader = open_account(client, admin)
    cap = client.app.state.gateway.config.limits.max_streams_per_account  # type: ignore[attr-defined]
    url = f"/v1/stream?access_token={trader.access_token}"
    opened = [client.websocket_connect(url) for _ in range(cap)]
    sockets = [ws.__enter__() for ws in opened]
    try:
        for ws in sockets:
            assert ws.receive_json(mode="binary")["type"] == "subscribed"
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url):
            pass
        assert refused.value.code == 1013
    finally:
        for ws in opened:
            ws.__exit__(None, None, None)
