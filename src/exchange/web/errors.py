"""One error shape for every failure: {"error": {"code": ..., "message": ...}}."""

import logging
from collections.abc import Mapping

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "ERROR")
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = msgspec.json.encode({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "ERROR")
    return error_response(exc.status_code, code, str(exc.detail), exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    return error_response(422, "INVALID_REQUEST", str(exc)[:500])


log = logging.getLogger(__name__)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug answers in the one error shape, without internals; the details go to the log."""
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "INTERNAL_ERROR", "internal error")


EXCEPTION_HANDLERS = {
    Exception: on_unexpected,
    ApiError: on_api_error,
    HTTPException: on_http_exception,
    msgspec.ValidationError: on_validation_error,
    msgspec.DecodeError: on_validation_error,
}
