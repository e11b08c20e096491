"""The way in (http/front.py) and the JSON answer (http/responses.py), over real HTTP where it matters."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Message

from mockserver.http import app as app_module
from mockserver.http import responses
from mockserver.http.bodies import BODY_READ
from mockserver.http.passage import send_json
from mockserver.http.recorder import Recorder, Recording
from mockserver.http.responses import JsonResponse
from mockserver.kit.client_rules import ClientRules
from mockserver.kit.journal import Entry, Journal, Query
from mockserver.sim.clock import ManualClock
from mockserver.spec.loader import Spec
from mockserver.testing import MockServer


def _broken_list_models(failure: str) -> Any:
    def factory(operation: Any, ctx: Any) -> Any:
        async def endpoint(request: Any) -> Any:
            if failure == "before":
                raise RuntimeError("boom")

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"object": "list", "data": ['
                raise RuntimeError("boom mid-answer")

            return StreamingResponse(chunks(), media_type="application/json")

        return endpoint

    return factory


def _journal(server: MockServer) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{server.url}/_mock/journal").json()["entries"]
    return entries


def test_a_crash_is_journalled_and_carries_the_request_id_it_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app_module.HANDLERS, "openai.list_models", _broken_list_models("before"))
    with MockServer(time_scale=0) as server:
        answer = httpx.get(f"{server.url}/v1/models")
        entries = _journal(server)
    assert answer.status_code == 500
    [request_id] = answer.headers.get_list("x-request-id")
    assert request_id.startswith("req_") and answer.json()["error"]["param"] == request_id
    assert [(e["path"], e["status"]) for e in entries] == [("/v1/models", 500)]


def test_a_crash_after_the_answer_started_closes_that_connection_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app_module.HANDLERS, "openai.list_models", _broken_list_models("during"))
    with MockServer(time_scale=0) as server:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{server.url}/v1/models").json()
        health = httpx.get(f"{server.url}/_mock/health")
        entries = _journal(server)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    # The client saw a 200 start and a cut-off body; the journal says so.
    assert [(e["path"], e["status"]) for e in entries] == [("/v1/models", 200)]


def test_an_error_that_names_the_request_id_itself_carries_it_once() -> None:
    with MockServer(time_scale=0) as server:
        answer = httpx.post(f"{server.url}/v1/images/generations", json={"prompt": "x", "model": "no-such-model"})
    assert answer.status_code >= 400
    ids = answer.headers.get_list("x-request-id")
    assert len(ids) == 1 and answer.json()["error"]["param"] == ids[0]


def test_fal_answers_carry_no_openai_request_id() -> None:
    with MockServer(time_scale=0) as server:
        answer = httpx.get(f"{server.url}/fal-ai/flux-pro/requests/nope/status")
    assert answer.status_code == 404 and "x-request-id" not in answer.headers


def test_oversized_headers_are_refused_before_the_journal_sees_them() -> None:
    with MockServer(time_scale=0, max_header_bytes=2048) as server:
        refused = httpx.get(f"{server.url}/v1/models", headers={"x-padding": "p" * 4096})
        fine = httpx.get(f"{server.url}/v1/models")
        entries = _journal(server)
    assert refused.status_code == 431 and refused.json()["error"]["code"] == "request_header_fields_too_large"
    assert fine.status_code == 200
    assert [(e["path"], e["status"]) for e in entries] == [("/v1/models", 200)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
header_maps = st.dictionaries(
    st.sampled_from(["X-Fal-Request-Id", "Retry-After", "Allow", "x-fal-error-type", "Content-Type"]),
    st.text(alphabet="abcdefghij0123456789-/ ", min_size=1, max_size=12),
    max_size=3,
)


def _sent(response: Response) -> list[Message]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    asyncio.run(response({"type": "http", "method": "GET", "path": "/"}, receive, send))
    return messages


@settings(max_examples=200, deadline=None)
@given(
    content=json_values,
    headers=header_maps,
    status=st.sampled_from([200, 202, 204, 304, 404, 422]),
    media_type=st.sampled_from([None, "application/problem+json"]),
)
def test_json_answer_sends_what_starlette_would(
    content: Any, headers: dict[str, str], status: int, media_type: str | None
) -> None:
    ours = JsonResponse(content, status_code=status, headers=headers, media_type=media_type)
    theirs = JSONResponse(content, status_code=status, headers=headers, media_type=media_type)
    assert responses.STANDARD_ENCODE(content) == theirs.body  # the fallback: Starlette's bytes, always
    assert json.loads(bytes(ours.body)) == content
    sent, expected = _sent(ours), _sent(theirs)
    if _has_float(content):  # a float may take another form of the same number (1e-05, 0.00001)
        length = str(len(ours.body)).encode()
        expected[0]["headers"] = [(k, length if k == b"content-length" else v) for k, v in expected[0]["headers"]]
        expected[1]["body"] = ours.body
    else:  # orjson's bytes or not, Starlette's
        assert ours.body == theirs.body
    assert ours.status_code == theirs.status_code
    assert sorted(ours.raw_headers) == sorted(expected[0]["headers"])
    assert [m["type"] for m in sent] == [m["type"] for m in expected]
    assert sorted(sent[0]["headers"]) == sorted(expected[0]["headers"]) and sent[1]["body"] == expected[1]["body"]


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return isinstance(value, list) and any(_has_float(v) for v in value)


def test_json_answer_never_says_what_json_cannot() -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError):
            responses.STANDARD_ENCODE({"x": [value]})
        if not responses.USES_ORJSON:
            with pytest.raises(ValueError):
                JsonResponse({"x": [value]})
        else:  # orjson's rule: not a number, so null
            assert JsonResponse({"x": [value]}).body == b'{"x":[null]}'
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        JsonResponse({"x": {1}})


def test_json_answer_takes_what_only_the_standard_encoder_can_say() -> None:
    # Past orjson's reach (integers over 64 bits, keys that are not strings): the standard rules.
    assert JsonResponse({"n": 2**70, 1: None}).body == b'{"n":1180591620717411303424,"1":null}'


@pytest.mark.skipif(not responses.USES_ORJSON, reason="orjson is not installed")
def test_json_answers_are_encoded_by_orjson_where_it_is_installed() -> None:
    # The fast path is the one in use (a standard encoder would write the float's other form).
    assert responses.ENCODE({"f": 1e-05}) == b'{"f":0.00001}'
    assert responses.STANDARD_ENCODE({"f": 1e-05}) == b'{"f":1e-05}'


def test_serving_leaves_no_reference_cycles_behind() -> None:
    """A request's objects die when it ends: a cycle (a scope holding the server's send, say)
    keeps a whole request alive until the collector runs, and slowed every later request."""
    body = {"prompt": "a lighthouse", "seed": 3}
    with MockServer(time_scale=0) as server, httpx.Client(base_url=server.url) as client:

        def lifecycle() -> None:
            ticket = client.post("/fal-ai/flux-pro/kontext/max/text-to-image", json=body).json()
            assert client.get(ticket["status_url"]).json()["status"] == "COMPLETED"
            assert client.get(ticket["response_url"]).status_code == 200
            assert client.get("/v1/models").status_code == 200  # an API with its own request ids

        lifecycle()  # first calls fill caches that live as long as the server
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(20):
                lifecycle()
            gc.collect()
            left = [o for o in gc.garbage if _serving(o)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert left == []


def _serving(thing: object) -> bool:
    """Whether an object belongs to serving a request (not to the client in this process)."""
    if isinstance(thing, dict):
        return thing.get("type") == "http" and "path" in thing  # an ASGI scope
    module = type(thing).__module__
    return module.startswith(("mockserver.", "starlette.", "uvicorn."))


def _through_a_recording(lane: str) -> tuple[list[Message], Entry]:
    spec = Spec.load()
    recorder = Recorder(Journal(10), ClientRules(spec, 0.0), spec, ManualClock())
    body = b'{"prompt": "x", "seed": 1}'
    scope = {
        "type": "http", "method": "POST", "path": "/v1/images/generations", "root_path": "", "query_string": b"",
        "headers": [(b"content-type", b"application/json")], BODY_READ: body,
    }
    sent: list[Message] = []

    async def server_send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError("the recording reads no body itself")

    answer = JsonResponse({"detail": "not this"}, status_code=400, headers={"x-request-id": "req_old"})
    recording = Recording(recorder, scope, receive, server_send, b"x-request-id", b"req_new")

    async def answer_it() -> None:
        if lane == "send_json":
            await send_json(recording.send, answer.status_code, answer.raw_headers, answer.body)
        else:  # two messages, as Starlette's answers are sent
            await recording.send({"type": "http.response.start", "status": 400, "headers": answer.raw_headers})
            await recording.send({"type": "http.response.body", "body": answer.body})
        recording.done()

    asyncio.run(answer_it())
    [entry] = recorder.journal.read(Query())[0]
    return sent, entry


def test_a_whole_json_answer_is_sent_and_journalled_as_its_two_messages_would_be() -> None:
    sent, entry = _through_a_recording("send_json")
    sent_apart, entry_apart = _through_a_recording("send")
    assert sent == sent_apart
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert (b"x-request-id", b"req_new") in sent[0]["headers"]  # stamped, in place of the app's
    assert (b"x-request-id", b"req_old") not in sent[0]["headers"]
    assert entry.status == 400 and entry.request_id == "req_new" and entry.body == {"prompt": "x", "seed": 1}
    assert [v.message for v in entry.violations] == ["the mock answered 400: not this"]  # the answer was read
    fields = ("method", "path", "operation", "headers", "body", "status", "request_id", "violations")
    assert [getattr(entry, f) for f in fields] == [getattr(entry_apart, f) for f in fields]


def test_the_mock_answers_the_same_without_orjson() -> None:
    # As on an interpreter orjson has no build for: the standard encoder alone, same bytes.
    code = """
import sys
sys.modules["orjson"] = None
import httpx
from mockserver.http import responses
from mockserver.testing import MockServer
assert not responses.USES_ORJSON
with MockServer() as mock:
    answer = httpx.post(mock.url + "/fal-ai/flux-pro/kontext/max/text-to-image", json={"prompt": "x"})
    print(answer.status_code, answer.content.decode())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    status, _, sent = done.stdout.strip().partition(" ")
    assert status == "200", done.stderr
    assert json.loads(sent)["status"] == "IN_QUEUE"
    assert sent.encode() == responses.ENCODE(json.loads(sent))  # what this process (orjson or not) would say


def test_an_answer_whose_head_could_not_be_sent_is_journalled_without_its_body() -> None:
    spec = Spec.load()
    recorder = Recorder(Journal(10), ClientRules(spec, 0.0), spec, ManualClock())
    scope = {"type": "http", "method": "GET", "path": "/v1/models", "root_path": "", "query_string": b"", "headers": []}

    async def gone(message: Message) -> None:
        raise OSError("connection reset")

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    recording = Recording(recorder, scope, receive, gone, None, b"")
    answer = JsonResponse({"detail": "never sent"}, status_code=400)

    async def answer_it() -> None:
        await send_json(recording.send, answer.status_code, answer.raw_headers, answer.body)

    with pytest.raises(OSError):
        asyncio.run(answer_it())
    recording.done()
    [entry] = recorder.journal.read(Query())[0]
    assert entry.status == 400
    assert [v.message for v in entry.violations] == ["the mock answered 400: (no JSON detail)"]
