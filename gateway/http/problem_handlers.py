"""The exception handlers of the app: every error raised while answering a request becomes its RFC 9457 problem
(:mod:`gateway.core.problems`), never a bare 500 or Starlette's plain-text answers."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from connectors import errors as ce
from gateway.core.outages import database_outage, database_unavailable
from gateway.core.problems import (
    ExchangeUnavailable,
    HttpError,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    NotReady,
    OperationNotSupported,
    Problem,
    UnsupportedMediaType,
    ValidationFailed,
    from_connector_error,
    problem_response,
    validation_errors,
)
from gateway.identity.request_state import request_state

__all__ = ["install_problem_handlers"]


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        # The precise reason (expired, replayed_assertion...), for the audit trail only: the body never says it.
        request_state(request.scope).problem_reason = reason
    return problem_response(exc, instance=request.url.path, scope=request.scope)


async def _on_connector_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ce.ConnectorError)
    return problem_response(from_connector_error(exc), instance=request.url.path, scope=request.scope)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        malformed = MalformedJson("The request body is not valid JSON.")
        return problem_response(malformed, instance=request.url.path, scope=request.scope)
    if isinstance(exc.body, bytes) and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors):
        # FastAPI reads a body as JSON only when its Content-Type says JSON; any other body arrives as bytes.
        media_type = (request.headers.get("content-type", "").partition(";")[0].strip() or "none")[:100]
        unsupported = UnsupportedMediaType(
            f"The request body must be JSON, sent with Content-Type: application/json (it was sent as {media_type})."
        )
        return problem_response(unsupported, instance=request.url.path, scope=request.scope)
    problem = ValidationFailed("Some values of the request are invalid.", errors=validation_errors(errors))
    return problem_response(problem, instance=request.url.path, scope=request.scope)


async def _on_database_error(request: Request, exc: Exception) -> Response:
    """The gateway's database cannot be reached: 503 (logged once per outage, see :mod:`gateway.core.outages`), and
    on a submission route the problem that tells its client to retry with the same key. Any other database
    error is a bug: it goes on to the last-resort 500."""
    if not database_unavailable(exc) or type(exc) is TimeoutError:  # a bare timeout is not the database's
        raise exc
    database_outage(request.app.state.gateway.settings.database_url).failed("requests", exc)
    labels = getattr(request.scope.get("route"), "metric_labels", None)
    if labels is not None and labels[1] == "submit":
        return problem_response(ExchangeUnavailable(), instance=request.url.path, scope=request.scope)
    problem = NotReady("The gateway's database cannot be reached. Try again later.", headers={"Retry-After": "5"})
    return problem_response(problem, instance=request.url.path, scope=request.scope)


def _json_body_unreadable(request: Request, exc: StarletteHTTPException) -> bool:
    """Whether FastAPI's generic 400 comes from decoding a JSON body that is not JSON it can read: invalid
    UTF-8, nesting deeper than the parser's recursion limit, or an integer of thousands of digits.

    (Syntax errors come as ``json_invalid`` validation errors instead; form bodies never reach this.)"""
    if exc.status_code != 400 or not isinstance(exc.__cause__, ValueError | RecursionError):
        return False
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return content_type in ("", "application/json") or content_type.endswith("+json")


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route accepts at this path (Starlette names only those of the first route matched)."""
    allowed = {
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in request.app.routes)
    }
    if "GET" in allowed:  # served as a GET (gateway.http.head)
        allowed.add("HEAD")
    return ", ".join(sorted(allowed))


_DATABASES = "/v1/databases/"


def _not_found(request: Request) -> Problem:
    """A 404 that says what is wrong under ``/v1/databases/{id}/``: no database of that id is served (naming those
    that are, as the OpenAPI document does), its connector did not load, or (405) the database is served but its
    connector does not offer the operation another database answers at this path."""
    path = request.url.path
    if not path.startswith(_DATABASES):
        return NotFound()
    database_id, _, rest = path.removeprefix(_DATABASES).partition("/")
    state = getattr(request.app.state, "gateway", None)
    if state is None or not database_id:
        return NotFound()
    registry = state.registry
    if database_id in registry.failures:
        return NotFound(f"The connector of {database_id} did not load: its routes are not served (/readyz says why).")
    if database_id not in registry.databases:
        served = ", ".join(sorted(registry.databases)) or "none"
        return NotFound(f"No database {database_id} is served here (served: {served}).")
    for other in registry.databases:
        if other == database_id:
            continue
        scope = {**request.scope, "path": f"{_DATABASES}{other}/{rest}"}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
            return OperationNotSupported(
                f"The connector of {database_id} does not offer this operation ({request.method} .../{rest}).",
                headers={"Allow": _allowed_methods(request)},
            )
    return NotFound()


def _other_slash(request: Request) -> str | None:
    """Where a path that no route serves is served with or without its trailing slash: the redirect's
    ``Location``, as a path (RFC 9110 allows a relative reference), never a URL built from the request's ``Host``
    header, which the client chooses (a shared cache would keep the redirect to another host for everyone)."""
    if "route" in request.scope:  # a route answered 404 itself (an unknown record): no other path is meant
        return None
    path: str = request.scope["path"]
    if path == "/":
        return None
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if not other or other.startswith("//"):  # "//host" would be another host's URL
        return None
    scope = {**request.scope, "path": other}
    if not any(route.matches(scope)[0] != Match.NONE for route in request.app.routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    location = quote(other)  # the decoded path, encoded again ("\\" too: some clients read it as "/")
    return f"{location}?{query}" if query else location


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    problem: Problem
    if exc.status_code == 404 and (location := _other_slash(request)) is not None:
        # What Starlette's redirect_slashes does (307 keeps the method and the body), with a relative Location.
        return RedirectResponse(location, status_code=307)
    if exc.status_code == 404:
        problem = _not_found(request)
    elif exc.status_code == 405:
        problem = MethodNotAllowed(headers={**(exc.headers or {}), "Allow": _allowed_methods(request)})
    elif _json_body_unreadable(request, exc):
        problem = MalformedJson("The request body is not valid JSON, nests too deeply, or holds a too long number.")
    else:
        problem = HttpError(str(exc.detail), headers=exc.headers, status=exc.status_code)
    return problem_response(problem, instance=request.url.path, scope=request.scope)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every known error into problem details."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(ce.ConnectorError, _on_connector_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(SQLAlchemyError, _on_database_error)
    app.add_exception_handler(OSError, _on_database_error)  # a refused connection is not always wrapped
