"""The request journal and its admin routes; the client rules on hand-made exchanges."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from contract_tests.cases import load_cases
from contract_tests.response_checks import check_response
from mockserver.http.recorder import Recorder, Seen
from mockserver.kit.client_rules import ClientRules, Exchange
from mockserver.kit.journal import Entry, Journal, Query, redact_headers, summarize
from mockserver.sim.clock import ManualClock
from mockserver.spec.loader import default_spec
from mockserver.testing import MockServer

SPEC = default_spec()
TEXT = "fal-ai/flux-pro/kontext/max/text-to-image"


@pytest.fixture
def server(clock: ManualClock) -> Iterator[MockServer]:
    with MockServer(clock=clock, concurrency=1) as mock:
        yield mock


def client(server: MockServer, test_id: str | None = None) -> httpx.Client:
    headers = {"X-Mock-Test-Id": test_id} if test_id else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def journal(server: MockServer, **params: str) -> dict[str, Any]:
    with httpx.Client(base_url=server.url) as http:
        answer = http.get("/_mock/journal", params=params)
    # The admin answer itself follows its spec.
    assert check_response(SPEC, SPEC.operation("listJournal"), answer) == []
    assert answer.status_code == 200
    page: dict[str, Any] = answer.json()
    return page


def entries(server: MockServer, **params: str) -> list[dict[str, Any]]:
    found = journal(server, **params)["entries"]
    assert isinstance(found, list)
    return found


def test_entry_records_request_answer_and_violations(server: MockServer) -> None:
    with client(server, "t-1") as http:
        body = {"prompt": "x", "num_images": 9, "extra": True}
        http.post(f"/{TEXT}", json=body, headers={"Authorization": "Key id:s3cret"})
    [entry] = entries(server)
    assert entry["test_id"] == "t-1" and entry["method"] == "POST" and entry["path"] == f"/{TEXT}"
    assert entry["operation"] == "submitKontextMaxTextToImage" and entry["status"] == 422
    assert entry["headers"]["authorization"] == "Key ***"
    assert "s3cret" not in str(entry)
    assert entry["body"] == {"prompt": "x", "num_images": 9, "extra": True}
    rules = [(v["rule"], v["field"], v["severity"]) for v in entry["violations"]]
    assert rules == [
        ("schema.value_error.number.not_le", "num_images", "error"),
        ("schema.unknown-field", "extra", "warning"),
    ]


def test_unknown_field_is_a_warning_not_a_rejection(server: MockServer) -> None:
    with client(server) as http:
        assert http.post(f"/{TEXT}", json={"prompt": "x", "style": "noir"}).status_code == 200
    [entry] = entries(server, violations="1")
    assert [v["severity"] for v in entry["violations"]] == ["warning"]


def test_a_run_call_is_judged_by_the_model_its_path_names(instant: MockServer) -> None:
    # The run host takes any model's body: the rules find which from the path's endpoint_id.
    with client(instant, "run-1") as http:
        http.post(f"/run/{TEXT}", json={"prompt": "x", "extra": True})
    [entry] = entries(instant, test_id="run-1")
    rules = [(v["rule"], v["field"]) for v in entry["violations"]]
    assert entry["status"] == 200 and rules == [("schema.unknown-field", "extra")]


@pytest.mark.parametrize(
    ("path", "body", "header"),
    [
        (f"/{TEXT}", {"prompt": "x"}, "x-fal-request-id"),
        ("/v1/images/generations", {"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": "x"},
         "x-request-id"),
    ],
)
def test_the_request_id_of_each_api_is_journalled(instant: MockServer, path: str, body: Any, header: str) -> None:
    with client(instant, "rid") as http:
        answer = http.post(path, json=body)
    assert answer.status_code == 200 and answer.headers[header]
    [entry] = entries(instant, test_id="rid")
    assert entry["request_id"] == answer.headers[header]


def test_filters_and_paging(server: MockServer) -> None:
    with client(server, "a") as a, client(server, "b") as b:
        for _ in range(3):
            a.post(f"/{TEXT}", json={"prompt": "ok"})
        b.post(f"/{TEXT}", json={"prompt": 1})
        b.get("/nowhere")
    assert len(entries(server, test_id="a")) == 3
    assert [e["status"] for e in entries(server, test_id="b")] == [422, 404]
    assert len(entries(server, status="404")) == 1
    assert len(entries(server, method="post")) == 4
    assert len(entries(server, violations="true")) == 2
    first = journal(server, limit="2")
    assert first["total"] == 5 and first["next_offset"] == 2 and len(first["entries"]) == 2
    last = journal(server, limit="2", offset="4")
    assert last["next_offset"] is None and len(last["entries"]) == 1
    seqs = [e["seq"] for e in entries(server)]
    assert seqs == sorted(seqs)
    assert [e["seq"] for e in entries(server, since=str(seqs[2]))] == seqs[3:]


def test_admin_routes_are_not_journaled_and_bad_filters_are_422(server: MockServer) -> None:
    with client(server) as http:
        http.get("/_mock/health")
        assert http.get("/_mock/journal", params={"limit": "0"}).status_code == 422
        assert http.get("/_mock/journal", params={"status": "abc"}).status_code == 422
        assert http.get("/_mock/journal", params={"limit": "5000"}).status_code == 422
    assert entries(server) == []


def test_delete_clears_one_test_or_all(server: MockServer) -> None:
    with client(server, "a") as a, client(server, "b") as b:
        a.get("/x")
        b.get("/y")
        assert a.delete("/_mock/journal", params={"test_id": "a"}).json() == {"deleted": 1}
        assert [e["test_id"] for e in entries(server)] == ["b"]
        assert a.delete("/_mock/journal").json() == {"deleted": 1}
    assert entries(server) == []


def test_polling_too_fast_is_measured_on_the_mock_clock(server: MockServer, clock: ManualClock) -> None:
    with client(server, "poll") as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "x"}).json()
        http.get(ticket["status_url"])
        clock.advance(0.01)
        http.get(ticket["status_url"])  # too soon
        clock.advance(1)
        http.get(ticket["status_url"])  # fine
        clock.advance(30)
        assert http.get(ticket["status_url"]).json()["status"] == "COMPLETED"
        assert http.get(ticket["response_url"]).status_code == 200
        assert http.put(ticket["cancel_url"]).status_code == 400  # too late to cancel: not a fault
    bad = entries(server, violations="1")
    assert [v["rule"] for e in bad for v in e["violations"]] == ["queue.poll-too-fast"]
    assert "0.010s after the previous poll" in str(bad[0]["violations"])


def test_stream_to_completion_allows_the_result(server: MockServer, clock: ManualClock) -> None:
    with client(server, "sse") as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "x"}).json()
        clock.advance(30)
        with http.stream("GET", ticket["status_url"] + "/stream") as stream:
            assert "COMPLETED" in stream.read().decode()
        assert http.get(ticket["response_url"]).status_code == 200
    assert entries(server, violations="1") == []


def test_fixture_bodies_give_the_expected_outcome_and_violations(server: MockServer) -> None:
    # The mock's own check of the shared fixtures: every valid body accepted with no
    # violation, every invalid one rejected with the expected status and field. The
    # OpenAI fixtures are checked by the conformance kit's tests (test_conformance_kit.py).
    with client(server, "fixtures") as http:
        for case in [c for c in load_cases() if c.api == "fal"]:
            before = server.context.journal.last_seq
            answer = http.post(f"/{case.endpoint}", content=case.payload(), headers={"Content-Type": case.content_type})
            assert answer.status_code == case.expect.status, case.id
            [last] = [e.as_json() for e in server.context.journal.read(Query(test_id="fixtures", since=before))[0]]
            fields = [v["field"] for v in last["violations"]]
            if case.kind == "valid":
                assert fields == [], case.id
            else:
                assert fields, case.id
                if case.expect.field:
                    assert case.expect.field in fields, case.id


# ---- rules on hand-made exchanges ------------------------------------------------


def exchange(at: float, path: str = "/fal-ai/flux-pro/kontext/max", **kw: object) -> Exchange:
    base: dict[str, Any] = dict(
        at=at, test_id="t", method="POST", path=path, operation=None, path_params={}, content_type="",
        body=b"", status=200, response_headers={},
    )
    base.update(kw)
    return Exchange(**base)


def test_retry_after_must_be_waited_for() -> None:
    rules = ClientRules(SPEC, min_poll_interval=0.1)
    assert rules.check(exchange(0.0, status=429, response_headers={"retry-after": "2"}))[0].rule == "response.rejected"
    # (a warning: fal-client retries on its own backoff, whatever Retry-After says)
    early = rules.check(exchange(1.5))
    assert [v.rule for v in early] == ["http.retry-after-ignored"]
    assert "0.500s before" in early[0].message
    rules.check(exchange(3.0, status=503, response_headers={"retry-after": "1"}))
    assert rules.check(exchange(4.5)) == []


def test_through_the_proxy_only_a_call_for_the_same_target_is_a_repeat(instant: MockServer) -> None:
    # Every @fal-ai/client call goes to one proxy path; the target header says which call it is.
    proxy, test_id = f"{instant.url}/api/fal/proxy", "proxy-targets"
    refuse = {"id": "busy", "match": {"path": "/api/fal/proxy"},
              "effect": {"type": "error", "status": 429, "retry_after": 5}}
    added = httpx.post(f"{instant.url}/_mock/scenarios", json=refuse, headers={"x-mock-test-id": test_id})
    assert added.status_code == 201
    stream = "https://fal.run/fal-ai/flux-pro/kontext/max/text-to-image/stream"
    submit = "https://queue.fal.run/fal-ai/flux-pro/kontext/max/text-to-image"
    for target in (stream, submit, stream):
        httpx.post(proxy, json={"prompt": "p"}, headers={"x-fal-target-url": target, "x-mock-test-id": test_id})
    entries = httpx.get(f"{instant.url}/_mock/journal", params={"test_id": test_id}).json()["entries"]
    outer = [e for e in entries if e["path"] == "/api/fal/proxy"]
    assert outer[0]["status"] == 429
    early = ["http.retry-after-ignored" in [v["rule"] for v in e["violations"]] for e in outer[1:]]
    assert early == [False, True]  # another target is a new call; the same one again is a repeat


def test_retry_after_is_per_client() -> None:
    rules = ClientRules(SPEC, min_poll_interval=0.1)
    rules.check(exchange(0.0, status=429, response_headers={"retry-after": "5"}))
    assert rules.check(exchange(1.0, test_id="someone-else")) == []


def test_journal_is_bounded_and_redacts() -> None:
    store = Journal(max_entries=2)
    for i in range(3):
        store.add_later(_entry, f"/{i}")
    assert [e.path for e in store.read(Query())[0]] == ["/1", "/2"]
    assert redact_headers([("X-Api-Key", "abc"), ("Authorization", "Bearer tok"), ("Accept", "*/*")]) == {
        "x-api-key": "***", "authorization": "Bearer ***", "accept": "*/*",
    }
    uri = "data:image/png;base64," + "A" * 5000
    assert summarize({"image_url": uri})["image_url"].endswith("(5022 chars)")


def _entry(seq: int, path: str) -> Entry:
    return Entry(seq, 0.0, None, "GET", path, "", None, {}, None, 200, 1.0)


def test_records_are_judged_in_order_only_when_read() -> None:
    store = Journal(max_entries=10)
    made: list[str] = []

    def make(seq: int, path: str) -> Entry:
        made.append(path)
        return _entry(seq, path)

    first = store.add_later(make, "/a")
    store.add_later(make, "/b")
    assert made == [] and store.last_seq == first + 1  # numbered at once, made later
    assert [(e.seq, e.path) for e in store.read(Query())[0]] == [(first, "/a"), (first + 1, "/b")]
    assert made == ["/a", "/b"]
    store.add_later(make, "/c")
    assert store.clear() == 3 and made == ["/a", "/b", "/c"]


def test_unread_records_past_the_bound_are_dropped_unmade() -> None:
    store = Journal(max_entries=2)
    made: list[int] = []

    def make(seq: int, path: str) -> Entry:
        made.append(seq)
        return _entry(seq, path)

    for i in range(1, 6):
        store.add_later(make, f"/{i}")
    assert store.waiting == 2
    assert [(e.seq, e.path) for e in store.read(Query())[0]] == [(4, "/4"), (5, "/5")]
    assert made == [4, 5]


def _seen(status: int = 200) -> Seen:
    return Seen(
        at=5.0,
        duration_ms=1.5,
        method="POST",
        path=f"/{TEXT}",
        query=b"fal_webhook=x",
        headers=[(b"Content-Type", b"application/json"), (b"x-mock-test-id", b"t-9"), (b"x-api-key", b"s3cret")],
        operation_id="submitKontextMaxTextToImage",
        root_path="",
        body=b'{"prompt": "a \xc3\xa9t\xc3\xa9", "extra": 1}',
        status=status,
        response_headers=[(b"content-type", b"application/json"), (b"x-fal-request-id", b"r-1")],
        response_body=b'{"status": "IN_QUEUE"}',
        finished=True,
        body_read=True,
        injected=[],
        forwarded=False,
    )


@pytest.mark.parametrize("status", [200, HTTPStatus.OK], ids=["packed", "kept-as-is"])
def test_a_waiting_record_reads_back_whole(status: int) -> None:
    # Records wait packed; one that cannot be packed waits as it is. Either way nothing is lost.
    recorder = Recorder(Journal(10), ClientRules(SPEC, 0.0), SPEC, ManualClock())
    recorder.keep(tuple(_seen(status)))
    assert recorder.journal.waiting == 1
    [entry] = recorder.journal.read(Query())[0]
    assert (entry.seq, entry.at, entry.duration_ms, entry.method, entry.path) == (1, 5.0, 1.5, "POST", f"/{TEXT}")
    assert (entry.test_id, entry.query, entry.status, entry.request_id) == ("t-9", "fal_webhook=x", 200, "r-1")
    assert entry.operation == "submitKontextMaxTextToImage"
    assert entry.headers == {"content-type": "application/json", "x-mock-test-id": "t-9", "x-api-key": "***"}
    assert entry.body == {"prompt": "a été", "extra": 1}
    assert [(v.rule, v.field) for v in entry.violations] == [("schema.unknown-field", "extra")]


def test_waiting_records_are_held_one_object_each() -> None:
    # Thousands of records wait in a busy mock: as one object each they cost the allocator little.
    recorder = Recorder(Journal(5000), ClientRules(SPEC, 0.0), SPEC, ManualClock())
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(2000):
            recorder.keep(tuple(_seen()))
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    blocks = sum(stat.count_diff for stat in after.compare_to(before, "filename"))
    assert recorder.journal.waiting == 2000 and blocks < 2000 * 1.2


def test_a_record_that_cannot_be_judged_is_left_out() -> None:
    store = Journal(max_entries=5)
    store.add_later(lambda seq, path: None, "/bad")
    store.add_later(_entry, "/ok")
    assert [e.path for e in store.read(Query())[0]] == ["/ok"]


def test_big_exchanges_are_judged_at_once(server: MockServer) -> None:
    journal_store = server.context.journal
    with client(server, "big") as http:
        http.post(f"/{TEXT}", json={"prompt": "x" * 100_000})
        http.post(f"/{TEXT}", json={"prompt": "small"})
    # The big one (and everything before it) was judged when recorded; the small one waits.
    assert journal_store.waiting == 1
    [big, small] = entries(server, test_id="big")
    assert big["status"] == 200 and small["status"] == 200
    assert str(big["body"]["prompt"]).endswith("(100000 chars)")


def test_images_sent_are_not_held_for_the_rules(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url, timeout=30) as http:
        ticket = http.post(f"/{TEXT}", json={"prompt": "x"}).json()
        image = http.get(ticket["response_url"]).json()["images"][0]
        instant.context.journal.settle()
        picture = http.get(image["url"])
    assert picture.status_code == 200 and len(picture.content) > 16 * 1024
    # Had its bytes been copied, the download would have been judged at once, not left waiting.
    assert instant.context.journal.waiting == 1
    [download] = entries(instant, path=urlsplit(image["url"]).path)
    assert download["status"] == 200 and download["violations"] == []


def _kept(path: str, **changes: Any) -> tuple[Any, ...]:
    return tuple(_seen()._replace(path=path, **changes))


def test_held_exchanges_keep_their_order_and_numbers() -> None:
    # Small exchanges are handed to the journal in batches; nobody can tell from the journal.
    recorder = Recorder(Journal(100), ClientRules(SPEC, 0.0), SPEC, ManualClock())
    journal = recorder.journal
    for n in range(3):
        recorder.keep(_kept(f"/p{n}"))
    assert journal.last_seq == 3  # numbered as soon as anyone asks
    journal.add_later(_entry, "/ready")  # another writer, between two of the recorder's batches
    recorder.keep(_kept("/after"))
    recorder.keep(_kept("/big", body=b"x" * 20_000))  # judged at once, behind those held before it
    recorder.keep(_kept("/last"))
    found, total = journal.read(Query(limit=100))
    assert [(e.seq, e.path) for e in found] == [
        (1, "/p0"), (2, "/p1"), (3, "/p2"), (4, "/ready"), (5, "/after"), (6, "/big"), (7, "/last")
    ]
    assert total == 7 and journal.waiting == 0


def test_held_batches_past_the_bound_leave_the_newest_entries() -> None:
    recorder = Recorder(Journal(10), ClientRules(SPEC, 0.0), SPEC, ManualClock())
    for n in range(150):
        recorder.keep(_kept(f"/p{n}"))
    # Whole batches past the bound are dropped unmade; what waits is the last batch and what is held.
    assert recorder.journal.waiting < 64
    found, total = recorder.journal.read(Query(limit=100))
    assert total == 10
    assert [(e.seq, e.path) for e in found] == [(n + 1, f"/p{n}") for n in range(140, 150)]
