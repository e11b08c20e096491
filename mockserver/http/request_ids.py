"""The request id of the answer being made, for APIs whose clients read one from a header.

A spec document opts in with ``x-mock-stamp-request-id`` (the OpenAI API does;
its header is the one the spec gives ``x-mock-role: request_id``).
:class:`~mockserver.http.front.Front` makes the id before routing, so 404s,
405s and crashes carry it too, and puts it on the answer; error renderers
quote it from here.
"""

from __future__ import annotations

import contextvars

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request being answered, when its API hands out ids."""
    return _CURRENT.get()


def set_current(request_id: str) -> None:
    _CURRENT.set(request_id)
