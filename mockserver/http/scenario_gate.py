"""Scenario rules, applied at the start of every handler: the HTTP side of fault injection.

``wrap`` puts a check in front of each endpoint built from the spec (any
dialect, so APIs added later get it too). It gathers what rules look at
(endpoint, prompt, headers, the job a URL names), asks the
:class:`~mockserver.sim.scenarios.ScenarioBook`, and then either answers for the
endpoint (an error in the API's own shape, an ingress error page, a dropped
connection), delays it, corrupts its answer, or lets it run with the
decision kept in the request's scope (:func:`ruling_of`), from which the
route hands the queue what shapes the job.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from typing import Any, NamedTuple

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from mockserver.http.bodies import header_of, note_read, read_body
from mockserver.http.context import AppContext, Endpoint
from mockserver.http.errors import STATUS_WORDS, UNKNOWN_STATUS, ApiError, render, retry_headers
from mockserver.http.recorder import note_injected
from mockserver.sim.decisions import NO_RULING, Decision, JobDirectives, Ruling
from mockserver.sim.jobs import Job
from mockserver.sim.scenarios import Facts
from mockserver.spec.documents import Operation, SpecDocument
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role

# Where the app notes the server's transport (uvicorn's ``send`` is a method of its request
# cycle, which holds it), so a ``drop`` effect can close the connection without answering;
# under another server nothing is found and ``drop`` falls back to a cut-off answer.
CONNECTION = "flux_mock.transport"
# Where the gate keeps a request's Ruling in its scope (absent: no rule, no test id).
RULING = "flux_mock.ruling"


def ruling_of(request: Request) -> Ruling:
    """The test a request belongs to and what the scenario rules decided for it."""
    ruling: Ruling = request.scope.get(RULING, NO_RULING)
    return ruling


def test_id_of(request: Request, ctx: AppContext) -> str | None:
    """The test a request names in the spec's test id header, if any."""
    value = (header_of(request, ctx.spec.test_id_header.encode("latin-1")) or "").strip()
    return value or None


def wrap(endpoint: Endpoint, operation: Operation, ctx: AppContext) -> Endpoint:
    if operation.document.raw.get("x-mock-fault-injection", True) is False:
        return endpoint
    roles = _body_roles(operation, ctx.spec)
    creates_job = operation.method == "POST" and operation.body_schema_pointer() is not None
    handler = operation.handler

    def checked(request: Request) -> Awaitable[Response]:
        # With no rules and no test id (the usual case) the endpoint's own awaitable is handed
        # back: nothing to decide, and ruling_of says NO_RULING.
        header_id = test_id_of(request, ctx)
        if header_id is None and not ctx.scenarios.has_rules():
            return endpoint(request)
        return deciding(request, header_id)

    async def deciding(request: Request, header_id: str | None) -> Response:
        if not ctx.scenarios.has_rules():
            request.scope[RULING] = Ruling(header_id)
            return await endpoint(request)
        job = _job_of(ctx, request)
        test_id = header_id or (job.test_id if job else None)
        decision = Decision()
        if ctx.scenarios.active(test_id):
            replay = _Replay(request.receive, request.scope, peeking=creates_job)
            request = Request(request.scope, replay)
            body = None
            if creates_job:
                body = await _peek_json(request, replay, ctx.settings.max_body_bytes)
                request = Request(request.scope, replay)  # a fresh reader for the endpoint
            subject = _subject(ctx, request, operation, roles, job, body)
            facts = Facts(
                method=request.method,
                path=request.url.path,
                operation=operation.operation_id,
                handler=handler,
                headers={k.lower(): v for k, v in request.headers.items()},
                test_id=test_id,
                endpoint=subject.endpoint,
                prompt=subject.prompt,
                safety_tolerance=subject.safety_tolerance,
                creates_job=creates_job,
                streams=handler.endswith("stream"),
                cancels=handler.endswith("cancel"),
            )
            decision = ctx.scenarios.decide(facts)
            _note(request.scope, decision)
            if decision.latency_ms > 0 and await replay.disconnected_within(decision.latency_ms / 1000):
                return Response(status_code=499)  # nobody is listening any more
            if decision.response is not None:
                return _answer(decision.response, operation.document)
        request.scope[RULING] = Ruling(test_id, decision)
        if decision.corrupt is None:
            return await endpoint(request)
        try:
            response = await endpoint(request)
        except ApiError as exc:
            response = render(operation.document, exc)
        return corrupt(response, decision.corrupt)

    return checked


def _note(scope: Scope, decision: Decision) -> None:
    """Tell the journal what the rules made of this request, so its verdicts do not blame the client."""
    if not decision.fired:
        return
    source = "rule " + ", ".join(decision.fired)
    if decision.response is not None or decision.corrupt is not None:
        note_injected(scope, "answer", source)
    if decision.job != JobDirectives() or decision.cancel_race:
        note_injected(scope, "job", source)


# ---- what rules look at ------------------------------------------------------


def _job_of(ctx: AppContext, request: Request) -> Job | None:
    params = request.path_params
    if "request_id" not in params or "owner" not in params or "app" not in params:
        return None
    return ctx.queue.find(f"{params['owner']}/{params['app']}", params["request_id"])


def _body_roles(operation: Operation, spec: Spec) -> dict[Role, str]:
    """Field name by role in an operation's JSON body schema (``prompt``, ``model_name``)."""
    if operation.model is not None:
        return {role: info.name for role, info in operation.model.fields.items()}
    pointer = operation.body_schema_pointer()
    if pointer is None:
        return {}
    schema = spec.resolve(spec.resolve({"$ref": f"#{pointer}"}, operation.document), operation.document)
    roles: dict[Role, str] = {}
    for name, prop in schema.get("properties", {}).items():
        role = spec.resolve(prop, operation.document).get("x-mock-role")
        if isinstance(role, str):  # a known word: the loader checked every role
            roles.setdefault(Role(role), name)
    return roles


class _Subject(NamedTuple):
    endpoint: str | None = None  # the model endpoint a request concerns
    prompt: str | None = None
    safety_tolerance: int | None = None


def _subject(
    ctx: AppContext, request: Request, operation: Operation, roles: Mapping[Role, str], job: Job | None, body: Any
) -> _Subject:
    """The model endpoint a request concerns, its prompt and its safety tolerance."""
    if job is not None:
        model_op = ctx.spec.model(job.endpoint_id)
        has_prompt = model_op is not None and model_op.model is not None and model_op.model.name_of(Role.PROMPT)
        return _Subject(job.endpoint_id, job.plan.prompt if has_prompt else None)
    endpoint_id: str | None = None
    model = operation.model
    if model is not None:
        endpoint_id = model.endpoint_id
    elif "endpoint_id" in request.path_params:
        endpoint_id = str(request.path_params["endpoint_id"]).strip("/")
        model_op = ctx.spec.model(endpoint_id)
        if model_op is not None and model_op.model is not None:
            model = model_op.model
            roles = {role: info.name for role, info in model.fields.items()}
    body_map: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    if endpoint_id is None and isinstance(body_map.get(roles.get(Role.MODEL_NAME, "")), str):
        endpoint_id = body_map[roles[Role.MODEL_NAME]]
        named = ctx.spec.named_models.get(endpoint_id)
        if named is not None:  # the rest of the body follows the named model's schema, prompt and all
            model = named.info
            roles = {role: info.name for role, info in model.fields.items()}
    prompt = body_map.get(roles.get(Role.PROMPT, ""))
    tolerance_field = roles.get(Role.SAFETY_TOLERANCE)
    tolerance: Any = None
    if tolerance_field is not None:
        tolerance = body_map.get(tolerance_field, model.defaults.get(tolerance_field) if model else None)
    return _Subject(endpoint_id, prompt if isinstance(prompt, str) else None, _level(tolerance))


def _level(value: Any) -> int | None:
    """A tolerance as the number it names (the schema's values are digits, sent as text or not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() else None  # ("²" is a digit only to isdigit)


async def _peek_json(request: Request, replay: _Replay, limit: int) -> Any:
    """The body as JSON when it is one; the endpoint still reads (and judges) it."""
    try:
        raw = await read_body(request, limit)
    except ApiError:
        return None  # too large: the endpoint will say so
    finally:
        replay.rewind()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


# The most body a wait for a rule's latency reads ahead (then it only waits): an upload being
# sent meanwhile stays with the client, not in memory here.
_WAIT_READ_AHEAD = 1024 * 1024


class _Replay:
    """A ``receive`` that can hand the request body out again after a peek.

    Only a ``peeking`` replay keeps what passes through it (until :meth:`rewind`);
    any other passes the body straight on, however large it is.
    """

    def __init__(self, receive: Receive, scope: Scope, *, peeking: bool = False) -> None:
        self._receive = receive
        self._scope = scope
        self._seen: list[Message] = []
        self._queue: list[Message] = []
        self._recording = peeking

    async def __call__(self) -> Message:
        if self._queue:
            return self._queue.pop(0)
        message = await self._receive()
        if self._recording and message["type"] == "http.request":
            self._seen.append(message)
        return message

    def rewind(self) -> None:
        self._queue, self._seen, self._recording = self._seen, [], False

    async def disconnected_within(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the client goes away (then True)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        ahead = 0
        while (left := deadline - loop.time()) > 0:
            if ahead > _WAIT_READ_AHEAD:
                await asyncio.sleep(left)  # a large body: a client that leaves now is noticed by the reader
                return False
            try:
                message = await asyncio.wait_for(self._receive(), left)
            except TimeoutError:
                return False
            if message["type"] == "http.disconnect":
                return True
            self._queue.append(message)  # body the endpoint has not read yet
            ahead += len(message.get("body", b""))
            # Read, whether or not the endpoint ever reads it: the journal keeps it.
            note_read(self._scope, b"".join(m.get("body", b"") for m in self._queue if m["type"] == "http.request"))
        return False


# ---- what rules do -----------------------------------------------------------


def _answer(effect: Mapping[str, Any], document: SpecDocument) -> Response:
    kind = effect["type"]
    if kind == "drop":
        return _Drop()
    if kind == "ingress_error":
        status = int(effect.get("status", 502))
        # The load balancer's own page: fal-client treats a 502/503/504 whose body names
        # nginx and that lacks x-fal-request-id as an ingress error, and retries it.
        title = STATUS_WORDS[status].nginx_title
        page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        page += "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        return HTMLResponse(page, status_code=status)
    if kind == "timeout":
        # The header that says whose deadline it was, where the API declares one (fal's).
        name = document.answer_header(Role.TIMEOUT_TYPE)
        headers = {name: str(effect.get("timeout_type", "user"))} if name else {}
        return render(document, ApiError(504, "Request timed out", "request_timeout", headers=headers))
    status = int(effect["status"])
    headers = dict(effect.get("headers", {}))
    if "retry_after" in effect:
        given = {name.lower() for name in headers}
        hints = retry_headers(document, float(effect["retry_after"]) * 1000)
        headers.update({name: value for name, value in hints.items() if name not in given})
    words = STATUS_WORDS.get(status, UNKNOWN_STATUS)
    error = ApiError(
        status,
        str(effect.get("message", words.message)),
        str(effect.get("error_type", words.error_type)),
        headers=headers,
        body=effect.get("body"),
    )
    return render(document, error)


def corrupt(response: Response, mode: str) -> Response:
    """The same answer with a body a JSON parser rejects."""
    if isinstance(response, StreamingResponse) or not response.body:
        return response
    body = bytes(response.body)
    if mode == "malformed":
        body = body.replace(b'"', b"'")  # a Python repr, not JSON
        if b"'" not in body:
            body = b"{" + body
    else:
        body = body[: max(1, len(body) // 2)]
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(body, status_code=response.status_code, headers=headers)


class _Drop(Response):
    """Close the connection without a byte of answer."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = scope.get(CONNECTION)
        if transport is not None:
            transport.close()
            await asyncio.sleep(0)  # let the server see the connection go before we return
            return
        # No transport at hand: promise a body and never send it.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
