"""What the gateway learns about a request lives in one typed object (gateway.identity.request_state), never in
Starlette's string-keyed ``request.state``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.core.tracing import RequestTrace
from gateway.identity.request_state import request_state, start_request_state

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
#: The receivers whose ``.state`` is Starlette's attribute bag (``request.app.state`` is the application's).
_CONNECTIONS = frozenset({"request", "req", "websocket"})
_MAPPING_METHODS = frozenset({"get", "setdefault", "pop", "__getitem__", "__setitem__", "__contains__"})


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_state(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == "state"


def _is_scope(node: ast.expr) -> bool:
    return "scope" in (_last_name(node) or "")


def string_keyed_state(source: str) -> list[int]:
    """The lines of ``source`` that use Starlette's request state: ``request.state``, ``getattr(request,
    "state")``, ``scope["state"]``, ``scope.get("state")`` and the like."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source)) if _uses_state(node))


def _uses_state(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "state" and _last_name(node.value) in _CONNECTIONS
    if isinstance(node, ast.Subscript):
        return _is_state(node.slice) and _is_scope(node.value)
    if isinstance(node, ast.Compare):
        return _is_state(node.left) and any(_is_scope(c) for c in node.comparators)
    if isinstance(node, ast.Call):
        return _state_attribute(node) or _state_item(node)
    return False


def _state_attribute(call: ast.Call) -> bool:
    """``getattr(request, "state")`` (or ``setattr``, ``hasattr``)."""
    func, args = call.func, call.args
    return (
        isinstance(func, ast.Name)
        and func.id in {"getattr", "setattr", "hasattr"}
        and len(args) > 1
        and _is_state(args[1])
        and _last_name(args[0]) in _CONNECTIONS
    )


def _state_item(call: ast.Call) -> bool:
    """``scope.get("state")`` (or ``setdefault``, ``pop``...)."""
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in _MAPPING_METHODS
        and bool(call.args)
        and _is_state(call.args[0])
        and _is_scope(func.value)
    )


@pytest.mark.parametrize(
    "source",
    [
        "request.state.record_ids = [key]",
        "access = request.state.access",
        "self.request.state.decision = decision",
        "trace = getattr(request.state, 'trace', None)",
        "bag = getattr(request, 'state')",
        "scope['state']['deadline'] = 1.0",
        "status = scope.get('state', {}).get('rate_limit')",
        "scope.setdefault('state', {})",
        "bag = self.scope.get('state')",
        "known = 'state' in request.scope",
    ],
)
def test_the_check_finds_string_keyed_state(source: str) -> None:
    assert string_keyed_state(source) == [1]


@pytest.mark.parametrize(
    "source",
    [
        "gateway = request.app.state.gateway",
        "request_state(request.scope).record_ids = [key]",
        "state = tracker.state",
        "row = {'state': connection.state.value}",
        "labels = ['database', 'state']",
    ],
)
def test_the_check_leaves_other_states_alone(source: str) -> None:
    assert string_keyed_state(source) == []


def test_the_gateway_keeps_no_string_keyed_request_state() -> None:
    found = {
        f"{path.relative_to(ROOT).as_posix()}:{line}"
        for path in sorted(GATEWAY.rglob("*.py"))
        for line in string_keyed_state(path.read_text(encoding="utf-8"))
    }
    assert not found, (
        f"use gateway.identity.request_state.request_state(scope) instead of request.state: {sorted(found)}"
    )


def test_a_request_state_is_kept_in_its_scope_and_takes_no_unknown_field() -> None:
    scope: dict[str, object] = {"type": "http"}
    started = start_request_state(scope, "req-1", RequestTrace.new())
    assert request_state(scope) is started
    assert (started.request_id, started.record_ids, started.decision) == ("req-1", (), None)
    with pytest.raises(AttributeError):
        started.record_id = ["a misspelt field"]  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        request_state({"type": "http"})  # a scope the request middleware has not seen
