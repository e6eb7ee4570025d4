"""Query strings: only the parameters a route knows, each at most once; numbers in ASCII."""

from starlette.requests import Request

from exchange.web.errors import ApiError


def query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """The query parameters, refusing unknown and repeated ones (422)."""
    params = request.query_params
    unknown = set(params) - allowed
    if unknown:
        raise ApiError(422, f"unknown query parameters: {', '.join(sorted(unknown))[:200]}")
    if len(params.multi_items()) != len(params):
        raise ApiError(422, "a query parameter is repeated")
    return dict(params)


def is_number(raw: str, max_digits: int = 18) -> bool:
    """ASCII digits only: `str.isdigit` also takes "²" and "١٢", which int() then refuses
    or reads as another number (review L1)."""
    return 0 < len(raw) <= max_digits and raw.isascii() and raw.isdigit()
