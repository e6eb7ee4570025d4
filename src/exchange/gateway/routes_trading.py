"""Orders and balances: what a broker's trading credential may do.

Every call is authenticated and acts for one account the token names. A
new order's response is built from the engine's reply alone (it carries the
acceptance and every fill), so a market order comes back with its fills;
reads come from the gateway's view, after it has caught up with what this
gateway acknowledged (read-your-writes); balances come from the engine.
"""

import secrets

from starlette.requests import Request
from starlette.responses import Response

from exchange.core import CancelOrder, NewOrder, RejectReason
from exchange.core.events import CancelRejected, DuplicateOrder, OrderRejected
from exchange.engine.protocol import Reply
from exchange.gateway.history import MAX_TIME_MS, Window
from exchange.gateway.http import (
    authorize,
    choose_account,
    gateway_of,
    int_param,
    json_response,
    limit,
    path_id,
    read_body,
)
from exchange.gateway.render import (
    SIDE_OF,
    TIME_IN_FORCE_OF,
    TYPE_OF,
    account_out,
    order_out,
)
from exchange.gateway.resources import Gateway
from exchange.gateway.schemas import ExecutionListOut, ExecutionRowOut, OrderIn, OrderListOut
from exchange.views.order_view import OrderView, order_from_events
from exchange.web.errors import ApiError
from exchange.web.params import query

_NOT_FOUND = frozenset({RejectReason.UNKNOWN_ORDER, RejectReason.NOT_ORDER_OWNER})


def _caller(request: Request, scope: str, allowed: frozenset[str]) -> tuple[dict[str, str], int]:
    """Authorize, check the query string, and pick the account the call acts for."""
    claims = authorize(request, scope)
    params = query(request, allowed | {"accountId"})
    raw = params.get("accountId")
    requested = None if raw is None else int_param(raw, "accountId", 0, 1, 2**53)
    return params, gateway_of(request).serving(choose_account(claims, requested))


async def _settled(gateway: Gateway, reply: Reply) -> None:
    """Wait until the view has applied this reply's events."""
    last = reply.first_event_seq + len(reply.events) - 1
    if not await gateway.follow.wait_for(last, gateway.config.read_your_writes_timeout):
        raise ApiError(503, "the order view is behind the engine", headers={"Retry-After": "1"})


def _duplicate(gateway: Gateway, event: DuplicateOrder) -> OrderView:
    order = gateway.view.order(event.account, event.order_id)
    if order is not None:
        return order
    # Out of the view's retention: the original as the engine reports it, without executions.
    return OrderView(
        event.order_id,
        event.account,
        event.client_order_id,
        event.symbol,
        event.side,
        event.order_type,
        event.time_in_force,
        event.price,
        event.quantity,
        event.ts,
        status=event.status,
        filled=event.cum_quantity,
        remaining=event.leaves_quantity,
        reject_reason=event.reject_reason,
    )


async def place_order(request: Request) -> Response:
    claims = authorize(request, "trade")
    body = await read_body(request, OrderIn)
    gateway = gateway_of(request)
    account = gateway.serving(choose_account(claims, body.account_id))
    limit(gateway.per_account_orders, str(account), "per-account order")
    command = NewOrder(
        account=account,
        client_order_id=body.client_order_id or secrets.token_hex(16),  # 128 random bits
        symbol=body.symbol,
        side=SIDE_OF[body.side],
        order_type=TYPE_OF[body.type],
        time_in_force=TIME_IN_FORCE_OF[body.time_in_force],
        price=body.price if body.price is not None else 0,
        quantity=body.quantity,
    )
    reply = await gateway.submit(command, account)
    first = reply.events[0]
    if type(first) is DuplicateOrder:
        await _settled(gateway, reply)
        return json_response(order_out(_duplicate(gateway, first)))
    if type(first) is OrderRejected and not first.order_id:
        raise ApiError(422, f"order refused: {first.reason.name}", code=first.reason.name)
    order = order_from_events(reply.events, reply.first_event_seq)
    if order is None:
        raise ApiError(503, "the engine gave no order", headers={"Retry-After": "1"})
    return json_response(order_out(order))


async def cancel_order(request: Request) -> Response:
    _, account = _caller(request, "trade", frozenset())
    gateway = gateway_of(request)
    order_id = path_id(request, "order_id", "order")
    limit(gateway.per_account_orders, str(account), "per-account order")
    reply = await gateway.submit(CancelOrder(account=account, order_id=order_id), account)
    first = reply.events[0]
    if type(first) is CancelRejected:
        if first.reason in _NOT_FOUND:
            raise ApiError(404, "no such order")
        await _settled(gateway, reply)
        order = gateway.view.order(account, order_id)
        status = f" (it is {order_out(order).status})" if order is not None else ""
        raise ApiError(409, f"the order cannot be canceled{status}", code=first.reason.name)
    await _settled(gateway, reply)
    order = gateway.view.order(account, order_id)
    if order is None:
        raise ApiError(503, "the canceled order left the view", headers={"Retry-After": "1"})
    return json_response(order_out(order))


async def get_order(request: Request) -> Response:
    _, account = _caller(request, "read", frozenset())
    gateway = gateway_of(request)
    order_id = path_id(request, "order_id", "order")
    await gateway.caught_up(account)
    order = gateway.view.order(account, order_id)
    if order is None:
        raise ApiError(404, "no such order")
    return json_response(order_out(order))


async def order_resource(request: Request) -> Response:
    """/v1/order/{order_id}: one route for both methods, so 405 lists both in Allow."""
    if request.method == "DELETE":
        return await cancel_order(request)
    return await get_order(request)


_ORDER_STATUSES = frozenset(
    {"open", "all", "new", "partially_filled", "filled", "canceled", "rejected", "expired"}
)
_HISTORY = frozenset({"startTime", "endTime", "cursor"})
_WINDOW = frozenset({"startTime", "endTime"})
LIST_EXECUTIONS = 20
"""Executions per order in a live listing, the latest ones (security review L8): a page's
size is bounded by `limit` times this. GET /v1/order/{id} and /v1/execution give them all."""


async def list_orders(request: Request) -> Response:
    """Open or recent orders from the live view, paged by cursor; a time window: the history.

    status=open lists oldest first, status=all newest first; `nextCursor` (an
    order id) continues the listing. A page costs O(log n + limit) (L8).
    """
    params, account = _caller(request, "read", frozenset({"status", "symbol", "limit"}) | _HISTORY)
    gateway = gateway_of(request)
    status = params.get("status", "open")
    if status not in _ORDER_STATUSES:
        raise ApiError(422, f"status must be one of {', '.join(sorted(_ORDER_STATUSES))}")
    symbol = params.get("symbol")
    if symbol is not None and not 1 <= len(symbol) <= 16:
        raise ApiError(422, "symbol must have 1 to 16 characters")
    if _WINDOW & set(params) or status not in ("open", "all"):
        window = history_window(params, account)
        found = await gateway.history(lambda h: h.orders(window, status))
        cursor = str(found[-1].id) if len(found) == window.limit else None
        return json_response(OrderListOut([order_out(o) for o in found], cursor))
    size = int_param(params.get("limit"), "limit", 100, 1, 1000)
    raw_cursor = params.get("cursor")
    after = None if raw_cursor is None else int_param(raw_cursor, "cursor", 0, 0, 2**62)
    await gateway.caught_up(account)
    view = gateway.view
    listing = view.open_orders if status == "open" else view.recent_orders
    orders = listing(account, size, after=after, symbol=symbol)
    cursor = str(orders[-1].id) if len(orders) == size else None
    out = [order_out(o, max_executions=LIST_EXECUTIONS) for o in orders]
    return json_response(OrderListOut(out, cursor))


def history_window(params: dict[str, str], account: int) -> Window:
    top = 2**62
    start = params.get("startTime")
    end = params.get("endTime")
    return Window(
        account,
        params.get("symbol"),
        None if start is None else int_param(start, "startTime", 0, 0, MAX_TIME_MS),
        None if end is None else int_param(end, "endTime", 0, 0, MAX_TIME_MS),
        int_param(params.get("cursor"), "cursor", 0, 0, top),
        int_param(params.get("limit"), "limit", 100, 1, 1000),
    )


async def list_executions(request: Request) -> Response:
    """GET /v1/execution: the caller's executions, oldest first, paged by cursor."""
    allowed = frozenset({"symbol", "orderId", "limit"}) | _HISTORY
    params, account = _caller(request, "read", allowed)
    gateway = gateway_of(request)
    symbol = params.get("symbol")
    if symbol is not None and not 1 <= len(symbol) <= 16:
        raise ApiError(422, "symbol must have 1 to 16 characters")
    raw_order = params.get("orderId")
    order_id = None if raw_order is None else int_param(raw_order, "orderId", 0, 1, 2**62)
    window = history_window(params, account)
    rows = await gateway.history(lambda h: h.executions(window, order_id))
    out = [
        ExecutionRowOut(r.trade_id, r.order_id, r.symbol, r.side, r.price, r.quantity, r.time_ms)  # type: ignore[arg-type]
        for r in rows
    ]
    cursor = str(rows[-1].seq) if len(rows) == window.limit else None
    return json_response(ExecutionListOut(out, cursor))


async def get_account(request: Request) -> Response:
    _, account = _caller(request, "read", frozenset())
    gateway = gateway_of(request)
    state = await gateway.account_state(account)
    if state is None:
        raise ApiError(404, "no such account")
    return json_response(account_out(state))
