"""The dashboard's routes over HTTP: what they answer, what they refuse, and that they change nothing."""

from __future__ import annotations

import io
import re
import sys
import threading
import time

import httpx
import pytest

from contract_tests.mock_fixture import FluxMock
from mockserver.kit.client_check import run_check
from mockserver.testing import MockServer, Settings
from tests.helpers import EDIT, TEXT

PAGES = ["/_mock/ui", "/_mock/ui/journal", "/_mock/ui/scenarios"]


def test_a_browser_at_the_root_is_sent_to_the_dashboard_and_an_api_client_sees_no_change(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url) as client:
        sent = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        assert sent.status_code == 307 and sent.headers["location"] == "/_mock/ui"
        plain = client.get("/")
        unknown = client.get("/nowhere")
        assert plain.status_code == unknown.status_code == 404
        assert plain.json() == {"detail": "Not found: GET /", "error_type": "route_not_found"}
        assert client.post("/", headers={"Accept": "text/html"}).status_code == 405  # only GET is the dashboard's


def test_pages_answer_html_and_escape_what_clients_sent(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url) as client:
        prompt = "<script>alert(1)</script> a fox"
        request_id = client.post(f"/{TEXT}", json={"prompt": prompt}).json()["request_id"]
        for path in [*PAGES, f"/_mock/ui/jobs/{request_id}"]:
            page = client.get(path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
            assert "<script>alert" not in page.text, path
        jobs = client.get("/_mock/ui").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; a fox" in jobs and request_id in jobs
        assert instant.ui_url == f"{instant.url}/_mock/ui"


@pytest.mark.parametrize(
    "path",
    [
        "/_mock/ui?state=DONE",
        "/_mock/ui?page=0",
        "/_mock/ui?page=123456789",
        "/_mock/ui?page=-1",
        "/_mock/ui/journal?violations=maybe",
        "/_mock/ui/journal?page=abc",
        "/_mock/ui/scenarios?test_id=" + "x" * 201,
        "/_mock/ui/events",
        "/_mock/ui/events?since=-4",
        "/_mock/ui/events?since=1&jobs=NOT-HEX",
    ],
)
def test_bad_query_parameters_are_a_422_naming_them(instant: MockServer, path: str) -> None:
    answer = httpx.get(instant.url + path)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][0] == "query"


def test_unknown_jobs_and_assets_are_404s_and_pages_past_the_end_are_empty(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url) as client:
        assert client.get("/_mock/ui/jobs/no-such-job").status_code == 404
        assert client.get("/_mock/ui/static/missing.css").status_code == 404
        assert client.get("/_mock/ui/static/..%2Fviews.py").status_code == 404
        assert client.get("/_mock/ui/static/dashboard.css").headers["content-type"].startswith("text/css")
        assert client.get("/_mock/ui/static/dashboard.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/_mock/ui?test_id=&state=&page=1").status_code == 200  # the filter form's "any"
        far = client.get("/_mock/ui?page=9999")
        assert far.status_code == 200 and "No jobs yet" in far.text


def test_a_malformed_rule_from_the_page_is_refused_and_changes_nothing(instant: MockServer) -> None:
    # The page posts to the scenario routes themselves: their refusals are what it shows.
    with httpx.Client(base_url=instant.url) as client:
        before = client.get("/_mock/scenarios").json()
        for body in (b"{not json", b'{"effect": {"type": "error"}}', b'{"effect": {"type": "error", "status": 99}}'):
            answer = client.post("/_mock/scenarios", content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422 and answer.json()["detail"]
        assert client.get("/_mock/scenarios").json() == before
        assert client.post("/_mock/clock", json={"advance": -1}).status_code == 422


def test_the_feed_reports_a_new_request_and_ends_when_the_server_stops() -> None:
    server = MockServer(time_scale=0).start()
    try:
        since = server.context.journal.last_seq
        with httpx.Client(base_url=server.url, timeout=10) as client:
            jobs = client.get("/_mock/ui").text.split('data-jobs="')[1].split('"')[0]
            with client.stream("GET", f"/_mock/ui/events?since={since}&jobs={jobs}") as feed:
                assert feed.headers["content-type"].startswith("text/event-stream")
                lines = (line for line in feed.iter_lines() if line)
                assert next(lines).startswith("retry:")
                threading.Thread(target=lambda: httpx.post(f"{server.url}/{EDIT}", json={"prompt": "x"})).start()
                event = [next(lines), next(lines)]
                assert event[0] == "event: change" and '"since": 1' in event[1]
                started = time.monotonic()
                server.stop()  # with the feed still open
                assert time.monotonic() - started < 3
                assert list(lines) == []  # the feed ended, nothing more was said
    finally:
        server.stop()


def test_where_people_are_told_the_dashboard_is(instant: MockServer) -> None:
    fixture_view = FluxMock(instant, "tests/a test.py::one")
    assert fixture_view.ui_url == f"{instant.url}/_mock/ui?test_id=tests%2Fa+test.py%3A%3Aone"
    said = io.StringIO()
    assert run_check([sys.executable, "-c", "pass"], Settings(port=0, time_scale=0), out=said) == 0
    assert re.search(r"dashboard on http://127\.0\.0\.1:\d+/_mock/ui ", said.getvalue()), said.getvalue()
