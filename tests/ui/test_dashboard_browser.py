"""The dashboard in a real browser, after real traffic: what a person sees on it.

One mock and one browser for the module; each test opens its own page and
sends its requests under its own test id, so the tests do not see each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from mockserver.testing import MockServer
from tests.helpers import EDIT, TEXT

WAIT_MS = 5000
RULE_429 = {"match": {"method": "POST"}, "times": 1, "effect": {"type": "error", "status": 429, "retry_after": 1}}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(time_scale=0) as server:
        yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()


@pytest.fixture
def client(mock: MockServer, test_id: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, headers={mock.test_id_header: test_id}, timeout=10) as http:
        yield http


def _scoped(url: str, test_id: str) -> str:
    return f"{url}?test_id={quote(test_id)}"


def _live(page: Any) -> None:
    page.wait_for_function("document.getElementById('live-state').textContent.includes('on')")


def test_a_finished_job_shows_with_its_thumbnail_and_its_page_with_the_image(
    mock: MockServer, page: Any, client: httpx.Client, test_id: str
) -> None:
    submitted = client.post(f"/{TEXT}", json={"prompt": "a lighthouse at dusk", "seed": 7}).json()
    assert client.get(submitted["status_url"]).json()["status"] == "COMPLETED"
    assert client.get(submitted["response_url"]).status_code == 200
    page.goto(_scoped(mock.ui_url, test_id))
    row = page.locator(f'tr[data-request-id="{submitted["request_id"]}"]')
    assert "COMPLETED" in row.inner_text() and "a lighthouse at dusk" in row.inner_text()
    thumb = row.locator("img.thumb")
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert thumb.get_attribute("alt")  # says what it is
    row.get_by_role("link").click()
    page.wait_for_selector("h1:has-text('Job')")
    image = page.locator("figure img").first
    page.wait_for_function("img => img.complete && img.naturalWidth === 1024", arg=image.element_handle())
    assert '"prompt": "a lighthouse at dusk"' in page.locator("pre").last.inner_text()  # the request body


def test_a_bad_request_is_highlighted_in_the_journal_with_its_rule(
    mock: MockServer, page: Any, client: httpx.Client, test_id: str
) -> None:
    assert client.post(f"/{EDIT}", json={"prompt": "no image given"}).status_code == 422
    assert client.post(f"/{TEXT}", json={"prompt": "fine"}).status_code == 200
    page.goto(_scoped(mock.url + "/_mock/ui/journal", test_id))
    flagged = page.locator("tr.violated")
    assert flagged.count() == 1
    assert "schema.value_error.missing" in flagged.locator(".rule").inner_text()
    assert "image_url" in flagged.inner_text()
    clean = page.locator("tr:not(.violated)[data-seq]")
    shade = "el => getComputedStyle(el.querySelector('td')).backgroundColor"
    assert flagged.evaluate(shade) != clean.evaluate(shade)  # the violation stands out
    page.get_by_label("Violations only").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**violations=1**")
    assert page.locator("tr[data-seq]").count() == 1


def test_a_rule_added_from_the_page_takes_effect_and_its_counter_moves_live(
    mock: MockServer, page: Any, client: httpx.Client, test_id: str
) -> None:
    page.goto(_scoped(mock.url + "/_mock/ui/scenarios", test_id))
    _live(page)
    text = page.get_by_label("Rule (JSON", exact=False)
    text.fill("{not json")
    page.get_by_role("button", name="Add rule").click()
    assert "Not JSON" in page.locator("#rule-error").inner_text()
    text.fill(json.dumps({"effect": {"type": "error"}}))
    page.get_by_role("button", name="Add rule").click()
    page.wait_for_function("document.getElementById('rule-error').textContent.includes('status')")
    assert client.get("/_mock/scenarios").json()["rules"] == []  # refused: nothing changed
    text.fill(json.dumps(RULE_429))
    page.get_by_role("button", name="Add rule").click()
    row = page.locator("tr[data-rule-id]")
    row.wait_for()
    assert client.post(f"/{TEXT}", json={"prompt": "refused"}).status_code == 429
    page.wait_for_function("document.querySelector('tr[data-rule-id]').children[6].textContent.trim() === '1'")
    assert client.post(f"/{TEXT}", json={"prompt": "served"}).status_code == 200  # times: 1
    row.get_by_role("button").click()
    page.wait_for_selector("tr[data-rule-id]", state="detached")
    assert client.get("/_mock/scenarios").json()["rules"] == []


def test_new_requests_appear_without_reloading(
    mock: MockServer, page: Any, client: httpx.Client, test_id: str
) -> None:
    page.goto(_scoped(mock.ui_url, test_id))
    _live(page)
    page.evaluate("window.notReloaded = true")
    request_id = client.post(f"/{TEXT}", json={"prompt": "arrives live"}).json()["request_id"]
    page.wait_for_selector(f'tr[data-request-id="{request_id}"]')
    assert page.evaluate("window.notReloaded") is True


def test_the_clock_moves_from_the_page(mock: MockServer, page: Any) -> None:
    page.goto(mock.url + "/_mock/ui/scenarios")
    before = mock.context.clock.offset  # type: ignore[attr-defined]
    page.get_by_label("Advance the clock by", exact=False).fill("30")
    page.get_by_role("button", name="Advance").click()
    page.wait_for_function(f"document.getElementById('clock').textContent.includes('moved on {before + 30:g} s')")
    seconds = page.get_by_label("Advance the clock by", exact=False)
    seconds.fill("-5")
    page.get_by_role("button", name="Advance").click()
    assert seconds.evaluate("el => el.validity.valid") is False  # the browser holds it back
    seconds.fill("99999999999")  # past the route's maximum: its 422 is shown
    page.get_by_role("button", name="Advance").click()
    page.wait_for_function("document.getElementById('advance-error').textContent.includes('advance')")
    assert mock.context.clock.offset == before + 30  # type: ignore[attr-defined]
