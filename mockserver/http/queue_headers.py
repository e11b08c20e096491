"""The request headers that shape a submit: its place in the queue and what it keeps.

The header names are the spec's (header parameters with ``x-mock-role``
``start_timeout``, ``queue_priority``, ``object_lifecycle`` and ``store_io``);
when two headers share a role (fal's ``X-Fal-Request-Start-Timeout`` and its
older name ``X-Fal-Request-Timeout``), the one listed first wins. Their values
were checked against the spec with every other declared header (a 422 naming
the header, before anything is queued), so here they are only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from mockserver.spec import jsontext
from mockserver.spec.documents import Operation, SpecError, parameter_schema
from mockserver.spec.roles import Role
from mockserver.spec.typed_text import typed

LOW = "low"
_JSON = object()  # the "type" of a header whose value is JSON text (declared with ``content``)
_ROLES = (Role.START_TIMEOUT, Role.QUEUE_PRIORITY, Role.OBJECT_LIFECYCLE)


@dataclass(frozen=True)
class QueuePlace:
    start_timeout: float | None = None
    low_priority: bool = False
    file_seconds: float | None = None  # when the request's files expire (None: with the request)


NO_HINTS = QueuePlace()


class QueueHeaders:
    """Reads an operation's queue headers from a request."""

    def __init__(self, operation: Operation) -> None:
        self._expiration_key = ""
        self._by_role: dict[Role, list[tuple[str, Any]]] = {}  # role -> (lower-case name, JSON type)
        for param in operation.parameters():
            role = param.get("x-mock-role")
            if param.get("in") == "header" and role in _ROLES:
                kind = param["schema"].get("type") if "schema" in param else _JSON
                entry = (str(param["name"]).lower(), kind)
                self._by_role.setdefault(Role(role), []).append(entry)
                if role == Role.OBJECT_LIFECYCLE:
                    self._expiration_key = _expiration_key(operation, param)
        self._names = frozenset(lower.encode("latin-1") for entries in self._by_role.values() for lower, _ in entries)

    def read(self, request: Request) -> QueuePlace:
        if not self._by_role:
            return NO_HINTS
        if not any(key in self._names for key, _ in request.scope["headers"]):
            return NO_HINTS  # the usual case: no queue headers at all
        headers = request.headers
        timeout = self._value(headers, Role.START_TIMEOUT)
        priority = self._value(headers, Role.QUEUE_PRIORITY)
        return QueuePlace(
            start_timeout=float(timeout) if isinstance(timeout, (int, float)) else None,
            low_priority=priority == LOW,
            file_seconds=self.file_seconds(headers),
        )

    def file_seconds(self, headers: Mapping[str, str]) -> float | None:
        """The lifetime the lifecycle header asks for the request's files, if it does."""
        lifecycle = self._value(headers, Role.OBJECT_LIFECYCLE)
        seconds = lifecycle.get(self._expiration_key) if isinstance(lifecycle, Mapping) else None
        return float(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) else None

    def _value(self, headers: Mapping[str, str], role: Role) -> Any:
        for lower, kind in self._by_role.get(role, ()):
            raw = headers.get(lower)
            if raw is not None:
                if kind is _JSON:
                    try:
                        return jsontext.decode(raw)
                    except (ValueError, RecursionError):
                        return None  # only where the header was not checked (a proxied request)
                return typed(raw.strip(), kind)
        return None


def _expiration_key(operation: Operation, param: Mapping[str, Any]) -> str:
    """The key of a lifecycle header's JSON that sets the files' lifetime: its property with role
    ``expiration_seconds`` (a lifecycle header without one stops start-up)."""
    schema = parameter_schema(param) or {}
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, Mapping) and prop.get("x-mock-role") == Role.EXPIRATION_SECONDS:
            return str(name)
    raise SpecError(
        f"{operation.operation_id}: header {param['name']} has role {Role.OBJECT_LIFECYCLE} but no property"
        f" with x-mock-role {Role.EXPIRATION_SECONDS}"
    )
