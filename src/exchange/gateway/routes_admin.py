"""Operator actions (scope admin): money and shares in and out, suspensions, halts.

Each is one journaled engine command. Deposits and withdrawals carry the
operator's reference and the engine applies a reference once only, so a
retried request changes nothing (409 DUPLICATE_REFERENCE tells it apart).
"""

from starlette.requests import Request
from starlette.responses import Response

from exchange.core import (
    AccountStatus,
    Deposit,
    InstrumentStatus,
    RejectReason,
    SetAccountStatus,
    SetInstrumentStatus,
    Withdraw,
)
from exchange.core.events import (
    AccountStatusChanged,
    BalanceChanged,
    CommandRejected,
    InstrumentStatusChanged,
)
from exchange.engine.protocol import Reply
from exchange.gateway.http import authorize, gateway_of, json_response, path_id, read_body
from exchange.gateway.render import ACCOUNT_STATUSES, SYMBOL_STATUSES
from exchange.gateway.schemas import AccountStatusOut, MovementIn, MovementOut, SymbolStatusOut
from exchange.web.errors import ApiError

_STATUS_OF_REASON = {
    RejectReason.UNKNOWN_ACCOUNT: 404,
    RejectReason.UNKNOWN_SYMBOL: 404,
    RejectReason.DUPLICATE_REFERENCE: 409,
    RejectReason.INSUFFICIENT_FUNDS: 409,
    RejectReason.INSUFFICIENT_SHARES: 409,
    RejectReason.INVALID_AMOUNT: 422,
    RejectReason.INVALID_REFERENCE: 422,
}


def _refused(reply: Reply) -> None:
    for event in reply.events:
        if type(event) is CommandRejected and event.reason is not RejectReason.NO_CHANGE:
            status = _STATUS_OF_REASON.get(event.reason, 409)
            detail = f": {event.detail}" if event.detail else ""
            raise ApiError(status, f"{event.reason.name}{detail}", code=event.reason.name)


async def _movement(request: Request, withdraw: bool) -> Response:
    authorize(request, "admin")
    account = path_id(request, "account_id", "account")
    body = await read_body(request, MovementIn)
    gateway = gateway_of(request)
    kind = Withdraw if withdraw else Deposit
    reply = await gateway.submit(
        kind(account=account, asset=body.asset, amount=body.amount, reference=body.reference),
        account,
        admin=True,
    )
    _refused(reply)
    (changed,) = [e for e in reply.events if type(e) is BalanceChanged]
    return json_response(
        MovementOut(
            account, changed.asset, body.amount, body.reference, changed.total, changed.available
        )
    )


async def deposit(request: Request) -> Response:
    return await _movement(request, withdraw=False)


async def withdraw(request: Request) -> Response:
    return await _movement(request, withdraw=True)


async def _account_status(request: Request, status: AccountStatus) -> Response:
    authorize(request, "admin")
    account = path_id(request, "account_id", "account")
    gateway = gateway_of(request)
    reply = await gateway.submit(
        SetAccountStatus(account=account, status=status), account, admin=True
    )
    _refused(reply)
    for event in reply.events:
        if type(event) is AccountStatusChanged:
            status = event.status
    return json_response(AccountStatusOut(account, ACCOUNT_STATUSES[status]))  # type: ignore[arg-type]


async def suspend_account(request: Request) -> Response:
    return await _account_status(request, AccountStatus.SUSPENDED)


async def resume_account(request: Request) -> Response:
    return await _account_status(request, AccountStatus.OPEN)


async def _symbol_status(request: Request, status: InstrumentStatus) -> Response:
    authorize(request, "admin")
    symbol = request.path_params["symbol"]
    if len(symbol) > 16:
        raise ApiError(404, "no such symbol")
    gateway = gateway_of(request)
    reply = await gateway.submit(SetInstrumentStatus(symbol=symbol, status=status), admin=True)
    _refused(reply)
    for event in reply.events:
        if type(event) is InstrumentStatusChanged:
            status = event.status
    return json_response(SymbolStatusOut(symbol, SYMBOL_STATUSES[status]))  # type: ignore[arg-type]


async def halt_symbol(request: Request) -> Response:
    return await _symbol_status(request, InstrumentStatus.HALTED)


async def resume_symbol(request: Request) -> Response:
    return await _symbol_status(request, InstrumentStatus.ACTIVE)
