"""Applications, KYC review and OAuth2 tokens: the account half of the gateway.

Blocking work (SQL) runs in the thread pool. Approval opens the account in
the engine first, under the application's owner reference (the engine
allocates the id and binds it to that reference, so a retry gets the same
account back and nobody else can: review M1), then records the approval with
the engine's account id and the credential in one transaction, so an engine
outage changes nothing and the one-time secret is never lost.
"""

import logging
import time
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from exchange.accounts import Application, KycStatus
from exchange.accounts.store import (
    AccountTakenError,
    ApplicationNotPendingError,
    IdentityTakenError,
    StoredApplication,
)
from exchange.core import OpenAccount
from exchange.core.events import opened_account
from exchange.gateway.http import (
    authorize,
    bearer_token,
    gateway_of,
    int_param,
    json_response,
    limit_by_ip,
    path_id,
    read_body,
    verify,
)
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
from exchange.web.errors import ApiError
from exchange.web.params import query
from exchange.web.ratelimit import retry_after_header

log = logging.getLogger(__name__)


def _reasons(findings: list[dict[str, str]]) -> list[Reason]:
    return [Reason(f["reason"], f["field"]) for f in findings]


async def submit_application(request: Request) -> Response:
    """Anyone may apply, at the per-address application rate; a compliance officer filing for
    customers (a broker's back office, `exchange bench` opening its users) is identified by a
    `compliance` token instead, and its applications are screened the same way."""
    gateway = gateway_of(request)
    token = bearer_token(request)
    if token is None:
        limit_by_ip(gateway.applications, request, "application")
    else:
        verify(request, token, "compliance")  # a wrong or weak token is refused, not ignored
    body = await read_body(request, ApplicationIn)
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
    reasons = [Reason(f.reason.value, f.field) for f in screening.public_findings]
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
    params = query(request, frozenset({"status", "limit"}))
    try:
        status = KycStatus(params.get("status", KycStatus.PENDING_REVIEW.value))
    except ValueError as error:
        raise ApiError(422, str(error)) from None
    limit = int_param(params.get("limit"), "limit", 100, 1, 1000)
    gateway = gateway_of(request)
    found = await run_in_threadpool(gateway.store.applications, status, limit)
    return json_response(KycListOut([_kyc_out(a) for a in found]))


def _application_id(request: Request) -> int:
    return path_id(request, "application_id", "application")


async def approve_application(request: Request) -> Response:
    """Open the account in the engine first (a retry gets the same one), then record it."""
    claims = authorize(request, "compliance")
    application_id = _application_id(request)
    gateway = gateway_of(request)
    status = await run_in_threadpool(gateway.store.status, application_id)
    if status is None:
        raise ApiError(404, "no such application")
    if status is not KycStatus.PENDING_REVIEW:
        raise ApiError(409, f"the application is {status.value}", code="NOT_PENDING")
    if await run_in_threadpool(gateway.store.identity_taken, application_id):
        raise ApiError(409, "this identity has an approved account", code="IDENTITY_TAKEN")
    owner = await run_in_threadpool(gateway.store.account_owner, application_id)
    reply = await gateway.submit(OpenAccount(owner=owner), admin=True)
    account_id = opened_account(reply.events, owner)
    if account_id is None:
        raise ApiError(503, "the engine did not open the account", headers={"Retry-After": "1"})
    try:
        issued = await run_in_threadpool(
            gateway.store.approve, application_id, account_id, claims.client_id
        )
    except ApplicationNotPendingError:
        raise ApiError(409, "the application was decided meanwhile", code="NOT_PENDING") from None
    except IdentityTakenError:
        raise ApiError(
            409, "this identity has an approved account", code="IDENTITY_TAKEN"
        ) from None
    except AccountTakenError as error:
        log.error("approval of application %d refused: %s", application_id, error)
        raise ApiError(
            409, "the engine's account is recorded for another application", code="ACCOUNT_TAKEN"
        ) from None
    return json_response(ApproveOut(issued.account_id, issued.client_id, issued.client_secret))


async def reject_application(request: Request) -> Response:
    claims = authorize(request, "compliance")
    application_id = _application_id(request)
    body = await read_body(request, RejectIn)
    gateway = gateway_of(request)
    if await run_in_threadpool(gateway.store.status, application_id) is None:
        raise ApiError(404, "no such application")
    try:
        await run_in_threadpool(gateway.store.reject, application_id, claims.client_id, body.reason)
    except ApplicationNotPendingError:
        raise ApiError(409, "the application is not pending review", code="NOT_PENDING") from None
    return json_response(ApplicationOut(application_id, KycStatus.REJECTED.value))


async def issue_token(request: Request) -> Response:
    limit_by_ip(gateway_of(request).tokens, request, "token")
    body = await read_body(request, TokenIn)
    if body.grant_type != "client_credentials":
        raise ApiError(400, "only grant_type=client_credentials is supported", "UNSUPPORTED_GRANT")
    gateway = gateway_of(request)
    attempt = await run_in_threadpool(gateway.store.check, body.client_id, body.client_secret)
    credential = attempt.credential
    if attempt.retry_after:
        wait = {"Retry-After": retry_after_header(attempt.retry_after)}
        raise ApiError(429, "too many failed attempts for this client", headers=wait)
    if credential is None:
        raise ApiError(401, "unknown client or wrong secret", "INVALID_CLIENT")
    requested = frozenset(body.scope.split()) if body.scope else credential.scopes
    if not requested <= credential.scopes:
        raise ApiError(403, "a requested scope is not granted to this client", "INVALID_SCOPE")
    token, expires_in = gateway.issuer.issue(
        credential.client_id, requested, credential.accounts, int(time.time())
    )
    return json_response(TokenOut(token, "bearer", expires_in, " ".join(sorted(requested))))
