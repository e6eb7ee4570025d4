"""The client gateway's HTTP application (Starlette): accounts, KYC and tokens so far.

Blocking work (SQL, Argon2) runs in the thread pool; the engine is reached
through the asyncio `EngineClient`. Every error has one shape (errors.py);
bodies are msgspec Structs that refuse unknown fields and wrong types (422).
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.accounts import (
    Application,
    Claims,
    InvalidTokenError,
    KycStatus,
    SanctionsList,
    TokenIssuer,
)
from exchange.accounts.store import AccountStore, ApplicationNotPendingError, StoredApplication
from exchange.core import OpenAccount, RejectReason
from exchange.core.events import AccountOpened, CommandRejected
from exchange.engine.client import EngineClient, EngineUnavailableError
from exchange.gateway.errors import EXCEPTION_HANDLERS, ApiError
from exchange.gateway.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApproveOut,
    KycApplicationOut,
    KycListOut,
    Reason,
    RejectIn,
    TokenIn,
    TokenOut,
)

T = TypeVar("T")
ADMIN_SCOPES = frozenset({"admin", "compliance"})


@dataclass
class GatewayConfig:
    db_url: str
    engine_endpoint: str
    signing_key: bytes
    admin_client_id: str | None = None
    admin_client_secret: str | None = None
    token_ttl_seconds: int = 900
    max_body_bytes: int = 16 * 1024
    engine_timeout: float = 0.5
    engine_deadline: float = 10.0


class Gateway:
    """The gateway's resources, shared by every request."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.store = AccountStore(config.db_url)
        self.issuer = TokenIssuer(config.signing_key, ttl_seconds=config.token_ttl_seconds)
        self.sanctions = SanctionsList.load()
        self.client: EngineClient | None = None
        if config.admin_client_id and config.admin_client_secret:
            self.store.create_credential(
                ADMIN_SCOPES,
                client_id=config.admin_client_id,
                secret=config.admin_client_secret,
            )

    @property
    def engine(self) -> EngineClient:
        if self.client is None:
            raise ApiError(503, "the engine client is not running", headers={"Retry-After": "1"})
        return self.client


def json_response(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status_code=status, media_type="application/json")


async def read_body(request: Request, kind: type[T]) -> T:
    limit: int = request.app.state.gateway.config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, f"request body over {limit} bytes")
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, f"request body over {limit} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/x-www-form-urlencoded":
        form = await request.form()
        return msgspec.convert({k: v for k, v in form.items() if isinstance(v, str)}, kind)
    if content_type not in ("application/json", ""):
        raise ApiError(415, f"unsupported content type {content_type!r}")
    return msgspec.json.decode(body or b"{}", type=kind)


def authorize(request: Request, scope: str) -> Claims:
    """The caller's verified claims; 401 without a valid token, 403 without the scope."""
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token:
        raise ApiError(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    gateway: Gateway = request.app.state.gateway
    try:
        claims = gateway.issuer.verify(token.strip(), int(time.time()))
    except InvalidTokenError as error:
        raise ApiError(
            401, f"invalid token: {error}", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    if scope not in claims.scopes:
        raise ApiError(403, f"the token lacks the {scope!r} scope")
    return claims


def _reasons(findings: list[dict[str, str]]) -> list[Reason]:
    return [Reason(f["reason"], f["field"]) for f in findings]


# ------------------------------------------------------------------ routes


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def submit_application(request: Request) -> Response:
    body = await read_body(request, ApplicationIn)
    gateway: Gateway = request.app.state.gateway
    application = Application(
        body.full_name,
        body.national_id,
        body.date_of_birth,
        body.address,
        body.email,
        body.phone,
    )
    today = datetime.now(UTC).date()
    application_id, screening = await run_in_threadpool(
        gateway.store.submit, application, today=today, sanctions=gateway.sanctions
    )
    reasons = [Reason(f.reason.value, f.field) for f in screening.findings]
    return json_response(ApplicationOut(application_id, screening.status.value, reasons), 201)


def _kyc_out(stored: StoredApplication) -> KycApplicationOut:
    a = stored.application
    return KycApplicationOut(
        stored.application_id,
        a.full_name,
        a.national_id,
        a.date_of_birth,
        a.email,
        a.phone,
        stored.status.value,
        _reasons(stored.findings),
    )


async def list_applications(request: Request) -> Response:
    authorize(request, "compliance")
    unknown = set(request.query_params) - {"status", "limit"}
    if unknown:
        raise ApiError(422, f"unknown query parameters: {', '.join(sorted(unknown))}")
    try:
        status = KycStatus(request.query_params.get("status", KycStatus.PENDING_REVIEW.value))
        limit = int(request.query_params.get("limit", "100"))
    except ValueError as error:
        raise ApiError(422, str(error)) from None
    if not 1 <= limit <= 1000:
        raise ApiError(422, "limit must be between 1 and 1000")
    gateway: Gateway = request.app.state.gateway
    found = await run_in_threadpool(gateway.store.applications, status, limit)
    return json_response(KycListOut([_kyc_out(a) for a in found]))


def _application_id(request: Request) -> int:
    raw = request.path_params["application_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "no such application")
    return int(raw)


async def approve_application(request: Request) -> Response:
    """Open the account in the engine first (idempotent), then record the approval."""
    claims = authorize(request, "compliance")
    application_id = _application_id(request)
    gateway: Gateway = request.app.state.gateway
    status = await run_in_threadpool(gateway.store.status, application_id)
    if status is None:
        raise ApiError(404, "no such application")
    if status is not KycStatus.PENDING_REVIEW:
        raise ApiError(409, f"the application is {status.value}", code="NOT_PENDING")
    try:
        reply = await gateway.engine.submit(OpenAccount(application_id))
    except EngineUnavailableError:
        raise ApiError(503, "the engine is unavailable", headers={"Retry-After": "1"}) from None
    opened = any(type(e) is AccountOpened for e in reply.events) or any(
        type(e) is CommandRejected and e.reason is RejectReason.ACCOUNT_EXISTS for e in reply.events
    )
    if not opened:
        raise ApiError(503, "the engine did not open the account", headers={"Retry-After": "1"})
    try:
        issued = await run_in_threadpool(gateway.store.approve, application_id, claims.client_id)
    except ApplicationNotPendingError:
        raise ApiError(409, "the application was decided meanwhile", code="NOT_PENDING") from None
    return json_response(ApproveOut(issued.account_id, issued.client_id, issued.client_secret))


async def reject_application(request: Request) -> Response:
    claims = authorize(request, "compliance")
    application_id = _application_id(request)
    body = await read_body(request, RejectIn)
    gateway: Gateway = request.app.state.gateway
    if await run_in_threadpool(gateway.store.status, application_id) is None:
        raise ApiError(404, "no such application")
    try:
        await run_in_threadpool(gateway.store.reject, application_id, claims.client_id, body.reason)
    except ApplicationNotPendingError:
        raise ApiError(409, "the application is not pending review", code="NOT_PENDING") from None
    return json_response(ApplicationOut(application_id, KycStatus.REJECTED.value))


async def issue_token(request: Request) -> Response:
    body = await read_body(request, TokenIn)
    if body.grant_type != "client_credentials":
        raise ApiError(400, "only grant_type=client_credentials is supported", "UNSUPPORTED_GRANT")
    gateway: Gateway = request.app.state.gateway
    credential = await run_in_threadpool(
        gateway.store.authenticate, body.client_id, body.client_secret
    )
    if credential is None:
        raise ApiError(401, "unknown client or wrong secret", "INVALID_CLIENT")
    requested = frozenset(body.scope.split()) if body.scope else credential.scopes
    if not requested <= credential.scopes:
        raise ApiError(403, "a requested scope is not granted to this client", "INVALID_SCOPE")
    token, expires_in = gateway.issuer.issue(
        credential.client_id, requested, credential.accounts, int(time.time())
    )
    return json_response(TokenOut(token, "bearer", expires_in, " ".join(sorted(requested))))


def create_app(config: GatewayConfig) -> Starlette:
    gateway = Gateway(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.client = EngineClient(
            config.engine_endpoint,
            timeout=config.engine_timeout,
            deadline=config.engine_deadline,
        )
        try:
            yield
        finally:
            await gateway.client.close()
            gateway.client = None

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/v1/accounts", submit_application, methods=["POST"]),
            Route("/v1/admin/kyc", list_applications),
            Route("/v1/admin/kyc/{application_id}/approve", approve_application, methods=["POST"]),
            Route("/v1/admin/kyc/{application_id}/reject", reject_application, methods=["POST"]),
            Route("/v1/oauth/token", issue_token, methods=["POST"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
