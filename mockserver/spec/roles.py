"""The words ``x-mock-role`` may say: what a field, parameter or header means to the mock.

The spec names fields; the code asks for meanings. Every role the code asks
for is a member of :class:`Role`, and :func:`unknown_roles` finds any other
word in a document, so a misspelt role stops start-up instead of being missed
at request time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    # Model body fields.
    PROMPT = "prompt"
    SEED = "seed"
    NUM_IMAGES = "num_images"
    OUTPUT_FORMAT = "output_format"
    ASPECT_RATIO = "aspect_ratio"
    SYNC_MODE = "sync_mode"
    IMAGE_INPUT = "image_input"
    SAFETY_TOLERANCE = "safety_tolerance"  # how strict the safety checker is: 1 strictest
    MODEL_NAME = "model_name"  # the body field that picks the model (OpenAI-compatible API)
    RESPONSE_FORMAT = "response_format"
    IMAGE_UPLOAD = "image_upload"  # a multipart file field
    # Header parameters that ask for an error on purpose.
    FAIL_STATUS = "fail_status"
    FAIL_TIMES = "fail_times"
    RETRY_AFTER_MS = "retry_after_ms"
    SHOULD_RETRY = "should_retry"
    TEST_ID = "test_id"  # the request header that names the test a request belongs to
    # Header parameters of a submit that shape its place in the queue.
    START_TIMEOUT = "start_timeout"  # seconds a worker has to take the request
    QUEUE_PRIORITY = "queue_priority"  # "normal" or "low"
    PROXY_TARGET = "proxy_target"  # the header a proxy request names the URL it stands for in
    # Header parameters of submits and uploads: what is kept, and for how long.
    OBJECT_LIFECYCLE = "object_lifecycle"  # JSON: when the files a request makes (or uploads) expire
    STORE_IO = "store_io"  # "0": keep no copy of the request's payload
    EXPIRATION_SECONDS = "expiration_seconds"  # the key of the lifecycle header's JSON that sets the files' lifetime
    # A query parameter.
    WEBHOOK_URL = "webhook_url"  # where a submit asks for its result to be delivered
    # Header parameters of a webhook: how a receiver knows who sent it (fal's signature scheme).
    WEBHOOK_REQUEST_ID = "webhook_request_id"
    WEBHOOK_USER_ID = "webhook_user_id"
    WEBHOOK_TIMESTAMP = "webhook_timestamp"  # Unix seconds, signed with the rest
    WEBHOOK_SIGNATURE = "webhook_signature"  # hex Ed25519 over request id, user id, timestamp, body hash
    # Documented response headers.
    REQUEST_ID = "request_id"  # the header an API's answers carry their request id in
    RETRY_DELAY = "retry_delay"  # seconds a refused call should wait before it is tried again
    RETRY_DELAY_MS = "retry_delay_ms"  # the same in milliseconds, which the OpenAI SDKs read first
    RETRY_ADVICE = "retry_advice"  # "true" or "false": whether a client should retry at all
    TIMEOUT_TYPE = "timeout_type"  # on a 504: "user" when the caller's own deadline ended the request
    BILLABLE_UNITS = "billable_units"  # on an output: the units the request is billed
    # Answer bodies.
    CREDENTIAL = "credential"  # a token a client authenticates with: never written to a cassette


# The headers a webhook is signed with (fal's scheme).
WEBHOOK_HEADER_ROLES = frozenset(
    {Role.WEBHOOK_REQUEST_ID, Role.WEBHOOK_USER_ID, Role.WEBHOOK_TIMESTAMP, Role.WEBHOOK_SIGNATURE}
)
# The roles of response headers: each names one header per dialect.
ANSWER_HEADER_ROLES = frozenset(
    {Role.REQUEST_ID, Role.RETRY_DELAY, Role.RETRY_DELAY_MS, Role.RETRY_ADVICE, Role.TIMEOUT_TYPE, Role.BILLABLE_UNITS}
)


KNOWN = frozenset(Role)
_COMPONENT_KINDS = {"schemas": "schema", "parameters": "parameter", "headers": "header", "responses": "response"}


@dataclass(frozen=True)
class RoleNeeds:
    """The roles a handler reads: of its own operation (body fields, header parameters), and of
    every model it may be asked for by name (``x-mock-models``)."""

    operation: frozenset[Role] = frozenset()
    named_models: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class UnknownRole:
    where: str  # the operation or component that holds the field
    field: str | None
    role: object

    def __str__(self) -> str:
        field = f"field {self.field!r}" if self.field else "the schema itself"
        return f"{self.where}: {field} has unknown x-mock-role {self.role!r}"


def unknown_roles(document: Mapping[str, Any]) -> Iterator[UnknownRole]:
    """Every ``x-mock-role`` in a raw document whose word is not a :class:`Role`."""
    for path, node in _walk(document, ()):
        role = node["x-mock-role"]
        if not isinstance(role, str) or role not in KNOWN:
            yield UnknownRole(_where(document, path), _field(node, path), role)


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if "x-mock-role" in node:
            yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def _where(document: Mapping[str, Any], path: tuple[str, ...]) -> str:
    if len(path) >= 3 and path[0] == "paths":
        operation = document["paths"][path[1]][path[2]]
        named = operation.get("operationId") if isinstance(operation, Mapping) else None
        return f"operation {named or path[2].upper() + ' ' + path[1]}"
    if len(path) >= 3 and path[0] == "components":
        return f"{_COMPONENT_KINDS.get(path[1], path[1])} {path[2]}"
    return "/".join(path[:2]) or "document"


def _field(node: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    """The field or parameter the role is given to; None when it is on a shared schema itself."""
    if "name" in node and "in" in node:  # a parameter
        return str(node["name"])
    # The nearest property name above the node (an array's items play for their property).
    for index in range(len(path) - 1, 0, -1):
        if path[index - 1] == "properties":
            return path[index]
    return None
