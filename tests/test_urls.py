from __future__ import annotations

import httpx
import pytest

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
