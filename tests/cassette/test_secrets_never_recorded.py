"""No credential a client sends, or a service hands out, reaches a cassette, however it travels.

Each way a key can travel is sent through the real recorder to a real upstream
mock, and every byte of every file of the cassette is searched for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from mockserver.cassette.reader import read_cassette
from mockserver.cassette.redaction import Redactor, kept_header, unsigned
from mockserver.testing import MockServer, RecordingProxy
from tests.helpers import TEXT

KEY = "11111111-2222-3333-4444-555555555555:abcdefabcdefabcdefabcdef"
AUTH = {"Authorization": f"Key {KEY}"}
SECRETS = {
    "query": "QUERYSECRET123",
    "body": "BODYSECRET456",
    "form": "sk-MULTIPARTSECRET789",
    "form-unsent": "FORMONLYSECRET321",
    "header": "HEADERSECRET000",
    "apim": "APIMSECRET111",
    "underscore": "UNDERSCORE222",
}


def cassette_bytes(directory: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def test_no_way_of_sending_a_key_writes_it(tmp_path: Path) -> None:
    cassette = tmp_path / "cassette"
    with (
        MockServer(time_scale=0) as upstream,
        RecordingProxy(upstream=upstream.url, cassette=cassette) as rec,
        httpx.Client(base_url=rec.url, timeout=10) as http,
    ):
        http.post(f"/{TEXT}?fal_key={SECRETS['query']}", json={"prompt": "a"}, headers=AUTH)
        http.post(f"/{TEXT}", json={"prompt": "b", "api_key": SECRETS["body"]}, headers=AUTH)
        http.post(
            "/v1/images/edits", headers={"Authorization": f"Bearer {SECRETS['form']}"},
            data={"prompt": "c", "api_key": SECRETS["form"], "password": SECRETS["form-unsent"]},
            files={"image": ("a.png", b"\x89PNG\r\n\x1a\nxx", "image/png")},
        )
        http.post(f"/{TEXT}", json={"prompt": "d"}, headers={
            **AUTH, "X-Access-Key": SECRETS["header"], "Ocp-Apim-Subscription-Key": SECRETS["apim"],
            "X-Api_Key": SECRETS["underscore"],
        })
        upload_token = http.post("/storage/auth/token?storage_type=fal-cdn-v3", json={}, headers=AUTH).json()
        realtime_token = http.post("/tokens/", json={"allowed_apps": ["flux-pro"]}, headers=AUTH).json()
    written = cassette_bytes(cassette)
    for secret in [*SECRETS.values(), KEY, *KEY.split(":"), upload_token["token"], realtime_token]:
        assert secret.encode() not in written, secret
    recorded = read_cassette(cassette)
    assert len(recorded.exchanges) == 6
    # What is not a secret stays as it was: the rest of the token answer, the prompts, the queries' names.
    token_answer = next(ex for ex in recorded.exchanges if ex.operation == "createUploadToken").response.json
    assert token_answer["token"] == "[redacted]"
    assert token_answer["token_type"] == upload_token["token_type"]
    assert recorded.exchanges[0].path == f"/{TEXT}?fal_key=[redacted]"
    assert recorded.exchanges[1].request.json == {"prompt": "b", "api_key": "[redacted]"}


def test_links_keep_their_ordinary_query_parameters() -> None:
    assert unsigned("https://cdn.example/a.png?design=blue&monkey=1") == "https://cdn.example/a.png?design=blue&monkey=1"
    assert unsigned("https://s.example/o?X-Goog-Signature=ab12&X-Goog-Date=2026&sig=zz&token=t") == (
        "https://s.example/o?X-Goog-Signature=[redacted]&X-Goog-Date=2026&sig=[redacted]&token=[redacted]"
    )


def test_rate_limit_and_challenge_headers_are_kept() -> None:
    for name in ("x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens", "www-authenticate", "idempotency-key"):
        assert kept_header(name), name
    for name in ("x-access-key", "ocp-apim-subscription-key", "x-api_key", "x-amz-security-token", "x-credential"):
        assert not kept_header(name), name


def test_json_fields_named_as_credentials_are_emptied_but_counts_are_not() -> None:
    redactor = Redactor({})
    usage = {"input_tokens": 3, "total_tokens": 5, "input_tokens_details": {}, "token_type": "Bearer"}
    assert redactor.value(usage) == usage
    assert redactor.value({"access_token": "abc", "nested": [{"secret": "s3cr3t"}]}) == {
        "access_token": "[redacted]", "nested": [{"secret": "[redacted]"}]
    }
    assert json.dumps(redactor.answer("createRealtimeToken", "tok-123")) == '"tok-123"'  # no spec: no marks
