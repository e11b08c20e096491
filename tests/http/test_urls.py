from __future__ import annotations

import httpx
import pytest

from mockserver.http import urls
from mockserver.testing import MockServer

T2I = "/fal-ai/flux-pro/kontext/max/text-to-image"


@pytest.mark.parametrize(
    "headers, root",
    [
        ({}, None),  # the address the client used
        ({"x-forwarded-proto": "https", "x-forwarded-host": "mock.example:8443"}, "https://mock.example:8443"),
        ({"x-forwarded-host": "a.example, b.example", "x-forwarded-prefix": "/fal/"}, "http://a.example/fal"),
        ({"x-forwarded-host": "bad host/evil", "x-forwarded-proto": "javascript"}, None),  # ignored
        ({"x-forwarded-prefix": "/" + "p" * 2000}, "LONG"),  # past the cache's size bound
    ],
)
def test_links_follow_the_address_the_client_saw(instant: MockServer, headers: dict[str, str], root: str) -> None:
    answer = httpx.post(f"{instant.url}{T2I}", json={"prompt": "x"}, headers=headers).json()
    expected = {None: instant.url, "LONG": instant.url + "/" + "p" * 2000}.get(root, root)
    assert answer["status_url"] == f"{expected}/fal-ai/flux-pro/requests/{answer['request_id']}/status"


def test_links_stay_right_for_many_hosts_and_the_cache_stays_bounded(instant: MockServer) -> None:
    with httpx.Client(base_url=instant.url) as http:
        for n in range(300):  # more hosts than the cache keeps
            host = f"host-{n}.example:{1000 + n}"
            answer = http.post(T2I, json={"prompt": "x"}, headers={"host": host}).json()
            assert answer["status_url"].startswith(f"http://{host}/fal-ai/flux-pro/requests/")
    assert len(urls._CACHE) <= urls._CACHE_SIZE
