"""Security review L5: metrics are not public; 503 texts name no internal endpoint or DB error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from exchange.accounts import new_signing_key
from exchange.engine.ports import free_ports
from exchange.gateway import GatewayConfig, create_app
from tests import migrated
from tests.curve import key_directory
from tests.gateway.conftest import ADMIN, GENEROUS, token


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[TestClient]:
    """A gateway whose engine and report database are not there (nothing listens on the ports)."""
    engine_port, publish_port, db_port = free_ports(3)
    config = GatewayConfig(
        db_url=migrated.accounts_db(f"sqlite:///{tmp_path / 'accounts.db'}"),
        engine_endpoint=f"tcp://127.0.0.1:{engine_port}",
        engine_publish=f"tcp://127.0.0.1:{publish_port}",
        journal=tmp_path / "journal",
        keys_dir=key_directory(tmp_path).path,  # no engine here, but keys to start with
        signing_key=new_signing_key(),
        report_db_url=f"postgresql+psycopg://secret_user@127.0.0.1:{db_port}/reports",
        admin_client_id=ADMIN["client_id"],
        admin_client_secret=ADMIN["client_secret"],
        engine_timeout=0.05,
        engine_deadline=0.3,
        limits=GENEROUS,
    )
    (tmp_path / "journal").mkdir()
    with TestClient(create_app(config)) as client:
        client.engine_port, client.db_port = engine_port, db_port  # type: ignore[attr-defined]
        yield client


def test_l5_metrics_need_the_admin_scope(unreachable: TestClient) -> None:
    assert unreachable.get("/metrics").status_code == 401
    gateway = unreachable.app.state.gateway  # type: ignore[attr-defined]
    client_id, secret = gateway.store.create_credential(frozenset({"read", "trade"}), (1,))
    broker = token(unreachable, client_id, secret)
    assert unreachable.get("/metrics", headers=broker).status_code == 403
    admin = token(unreachable, ADMIN["client_id"], ADMIN["client_secret"])
    metrics = unreachable.get("/metrics", headers=admin)
    assert metrics.status_code == 200
    assert "gateway_requests_total" in metrics.text


def test_l5_503_texts_name_no_endpoint_or_database_error(
    unreachable: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    engine_port = str(unreachable.engine_port)  # type: ignore[attr-defined]
    db_port = str(unreachable.db_port)  # type: ignore[attr-defined]
    admin = token(unreachable, ADMIN["client_id"], ADMIN["client_secret"])
    gateway = unreachable.app.state.gateway  # type: ignore[attr-defined]
    client_id, secret = gateway.store.create_credential(frozenset({"read", "trade"}), (1,))
    broker = token(unreachable, client_id, secret)
    with caplog.at_level(logging.WARNING, logger="exchange.gateway.resources"):
        deposit = unreachable.post(
            "/v1/admin/accounts/1/deposits",
            json={"asset": "IRR", "amount": 1_000, "reference": "d-1"},
            headers=admin,
        )
        balances = unreachable.get("/v1/account", headers=broker)
        history = unreachable.get("/v1/execution", headers=broker)
    for response in (deposit, balances, history):
        assert response.status_code == 503, response.text
        for secret_part in (engine_port, db_port, "127.0.0.1", "tcp://", "secret_user", "psycopg"):
            assert secret_part not in response.text
    # The operator still learns what failed and where: in the log.
    logged = caplog.text
    assert engine_port in logged
    assert db_port in logged or "secret_user" in logged
