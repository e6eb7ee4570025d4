"""Operator actions on credentials (scope admin): list an account's, issue one, revoke one.

Access can be withdrawn (review H5): a revoked credential's tokens are refused
by every gateway within a second (each refreshes the revoked set from the
shared accounts database twice a second, and the one that revoked it at
once), its WebSocket streams are closed, and the FIX acceptor logs its session
out. Rotation is: issue a new credential for the account, hand it over, then
revoke the old one.
"""

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from exchange.gateway.http import authorize, gateway_of, json_response, path_id
from exchange.gateway.schemas import ApproveOut, CredentialOut, CredentialsOut, RevokedOut
from exchange.web.errors import ApiError

log = logging.getLogger(__name__)
TRADING_SCOPES = frozenset({"read", "trade"})


async def account_credentials(request: Request) -> Response:
    """GET: the account's credentials (never a secret); POST: a new one (its secret shown once)."""
    claims = authorize(request, "admin")
    account = path_id(request, "account_id", "account")
    store = gateway_of(request).store
    listed = await run_in_threadpool(store.credentials_of, account)
    if request.method == "GET":
        return json_response(CredentialsOut([CredentialOut(c, revoked) for c, revoked in listed]))
    if not listed:
        raise ApiError(404, "no such account")
    client_id, secret = await run_in_threadpool(store.create_credential, TRADING_SCOPES, (account,))
    log.info("credential %s issued for account %d by %s", client_id, account, claims.client_id)
    return json_response(ApproveOut(account, client_id, secret), 201)


async def revoke(request: Request) -> Response:
    claims = authorize(request, "admin")
    client_id = request.path_params["client_id"]
    gateway = gateway_of(request)
    if not (client_id.isascii() and client_id.isprintable() and len(client_id) <= 64):
        raise ApiError(404, "no such credential")
    if not await run_in_threadpool(gateway.store.revoke, client_id):
        raise ApiError(404, "no such credential")
    gateway.revoked = gateway.revoked | {client_id}
    log.info("credential %s revoked by %s", client_id, claims.client_id)
    return json_response(RevokedOut(client_id, True))
