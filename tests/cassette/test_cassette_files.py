"""Cassette documents: written as exchanges happen, read back the same, never holding a credential."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockserver.cassette.layout import CassetteError, exchange_name
from mockserver.cassette.reader import read_cassette
from mockserver.cassette.redaction import Redactor, kept_header
from mockserver.cassette.writer import CassetteWriter, Upstream
from mockserver.kit.recordings import cassette_records

KEY = "0123abcd-key-id:f00dfeedsecretpart"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def write_one(directory: Path, **changes: object) -> CassetteWriter:
    writer = CassetteWriter(directory, [Upstream("", "https://queue.example"), Upstream("/run", "https://run.example")],
                            Redactor({}))
    fields: dict[str, object] = {
        "at": 0.12345,
        "operation": "submit",
        "method": "post",
        "path": "/fal-ai/flux-pro/kontext/max?fal_webhook=https://hook.example/x",
        "url": "https://queue.example/fal-ai/flux-pro/kontext/max?fal_webhook=https://hook.example/x",
        "request_headers": [("Authorization", f"Key {KEY}"), ("Content-Type", "application/json"),
                            ("X-Fal-Queue-Priority", "low"), ("Content-Length", "20")],
        "request_body": json.dumps({"prompt": "a cat", "echo": KEY}).encode(),
        "status": 200,
        "response_headers": [("Content-Type", "application/json"), ("x-fal-request-id", "r-1"),
                             ("Set-Cookie", "session=zzzzzzzzzz"), ("Date", "Thu, 03 Dec 2026 07:00:00 GMT")],
        "response_body": json.dumps({"request_id": "r-1", "upload_url":
                                     "https://storage.example/b/o.png?X-Goog-Signature=cafe1234&v=2"}).encode(),
    }
    writer.add(**(fields | changes))  # type: ignore[arg-type]
    return writer


def test_an_exchange_reads_back_as_written(tmp_path: Path) -> None:
    write_one(tmp_path / "c")
    cassette = read_cassette(tmp_path / "c")
    (ex,) = cassette.exchanges
    assert (ex.seq, ex.at, ex.operation, ex.method, ex.status) == (1, 0.123, "submit", "POST", 200)
    assert ex.request.json == {"prompt": "a cat", "echo": "[redacted]"}
    assert ex.request.headers == {"content-type": "application/json", "x-fal-queue-priority": "low"}
    assert ex.response.headers == {"content-type": "application/json", "x-fal-request-id": "r-1"}
    assert ex.response.json["upload_url"] == "https://storage.example/b/o.png?X-Goog-Signature=[redacted]&v=2"
    assert cassette.upstreams == (Upstream("", "https://queue.example"), Upstream("/run", "https://run.example"))
    (rec,) = cassette_records(cassette)
    assert rec.path == "/fal-ai/flux-pro/kontext/max" and rec.url.startswith("https://queue.example/")
    assert json.loads(rec.response_body)["request_id"] == "r-1"


def test_no_credential_is_written_anywhere(tmp_path: Path) -> None:
    write_one(tmp_path / "c")
    text = "".join(p.read_text() for p in (tmp_path / "c").rglob("*.json"))
    for secret in (KEY, "0123abcd-key-id", "f00dfeedsecretpart", "zzzzzzzzzz", "cafe1234"):
        assert secret not in text
    assert "[redacted]" in text


def test_files_and_binary_bodies_sit_beside_the_exchanges(tmp_path: Path) -> None:
    writer = write_one(tmp_path / "c", request_body=PNG, request_headers=[("Content-Type", "image/png")])
    writer.add_file("/files/abc/out.png", "https://cdn.example/files/abc/out.png?token=t0ps3cret", PNG, "image/png")
    writer.add_file("/files/def/out.png", "https://cdn.example/files/def/out.png", PNG[:20], "image/png")
    cassette = read_cassette(tmp_path / "c")
    assert cassette.exchanges[0].request.body == PNG
    assert sorted(p.name for p in (tmp_path / "c" / "files").iterdir()) == ["0001-request.png", "2-out.png", "out.png"]
    stored = cassette.files["/files/abc/out.png"]
    assert (stored.data, stored.content_type) == (PNG, "image/png")
    assert stored.source == "https://cdn.example/files/abc/out.png?token=[redacted]"
    assert cassette.files["/files/def/out.png"].data == PNG[:20]


def test_the_layout_is_stable_for_review(tmp_path: Path) -> None:
    write_one(tmp_path / "a")
    write_one(tmp_path / "b")
    name = exchange_name(1, "post", "/fal-ai/flux-pro/kontext/max?x=1")
    assert name == "exchanges/0001-POST-fal-ai-flux-pro-kontext-max.json"
    for part in ("index.json", name):
        text = (tmp_path / "a" / part).read_text()
        assert text == (tmp_path / "b" / part).read_text()
        assert list(json.loads(text)) == sorted(json.loads(text))


def test_recording_again_replaces_a_cassette_but_nothing_else(tmp_path: Path) -> None:
    write_one(tmp_path / "c")
    write_one(tmp_path / "c", path="/v1/images/generations", operation=None)
    assert [ex.path for ex in read_cassette(tmp_path / "c").exchanges] == ["/v1/images/generations"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CassetteError, match="not a cassette to record over"):
        write_one(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "index.json").unlink(), "missing: not a cassette"),
        (lambda d: (d / "index.json").write_text('{"format": 99}'), "format 99"),
        (lambda d: (d / "index.json").write_text("[1]"), "not a JSON object"),
        (lambda d: next((d / "exchanges").iterdir()).write_text('{"seq": 1}'), "request is missing"),
    ],
)
def test_a_damaged_cassette_is_refused_with_the_reason(tmp_path: Path, damage: object, message: str) -> None:
    write_one(tmp_path / "c")
    damage(tmp_path / "c")  # type: ignore[operator]
    with pytest.raises(CassetteError, match=message):
        read_cassette(tmp_path / "c")


def test_a_file_reference_cannot_leave_the_cassette(tmp_path: Path) -> None:
    write_one(tmp_path / "c", request_body=PNG, request_headers=[("Content-Type", "image/png")])
    (tmp_path / "secret.txt").write_text("outside")
    path = next((tmp_path / "c" / "exchanges").iterdir())
    doc = json.loads(path.read_text())
    doc["request"]["body"] = {"file": "../secret.txt"}
    path.write_text(json.dumps(doc))
    with pytest.raises(CassetteError, match="outside the cassette"):
        read_cassette(tmp_path / "c")


def test_which_headers_are_kept() -> None:
    kept = ["content-type", "user-agent", "x-fal-request-id", "retry-after", "idempotency-key", "x-fal-queue-priority"]
    dropped = ["authorization", "cookie", "set-cookie", "x-fal-key", "api-key", "x-api-key", "proxy-authorization",
               "content-length", "date", "host", "x-goog-signature"]
    assert [h for h in kept if kept_header(h)] == kept
    assert [h for h in dropped if kept_header(h)] == []


def test_environment_keys_are_scrubbed_though_the_client_never_sent_them() -> None:
    redactor = Redactor({"FAL_KEY": "envid:envsecretvalue", "OPENAI_API_KEY": "sk-test-abcdef"})
    assert redactor.text("a envid:envsecretvalue b sk-test-abcdef c") == "a [redacted] b [redacted] c"
    assert redactor.text("only envsecretvalue") == "only [redacted]"


def _edit_exchange(directory: Path, change: object) -> None:
    path = next((directory / "exchanges").iterdir())
    doc = json.loads(path.read_text())
    change(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["response"].update(status=-1), "status -1 is not an HTTP status"),
        (lambda d: d["response"].update(status=1000), "status 1000 is not an HTTP status"),
        (lambda d: d["request"].update(method="GE T"), "is not an HTTP method"),
        (lambda d: d["request"].update(path="fal-ai/x"), "is not an absolute path"),
        (lambda d: d["request"].update(path="/x\r\nHost: evil"), "is not an absolute path"),
        (lambda d: d["request"].update(url="http://[::1/x"), "is not a URL"),
        (lambda d: d["response"]["headers"].update({"x-a": "v\r\nSet-Cookie: s=1"}), "cannot be sent as a header"),
        (lambda d: d["response"]["headers"].update({"x a": "v"}), "cannot be sent as a header"),
        (lambda d: d["request"]["headers"].update({"x-a": ["v"]}), "cannot be sent as a header"),
    ],
)
def test_an_edit_that_could_not_be_sent_again_is_refused(tmp_path: Path, change: object, message: str) -> None:
    # Cassettes are meant to be edited by hand; a replayed answer must still be a valid HTTP answer.
    write_one(tmp_path / "c")
    _edit_exchange(tmp_path / "c", change)
    with pytest.raises(CassetteError, match=message):
        read_cassette(tmp_path / "c")


def test_a_stored_file_s_type_must_be_sendable(tmp_path: Path) -> None:
    writer = write_one(tmp_path / "c")
    writer.add_file("/files/a/cat.png", "https://cdn.example/a/cat.png", PNG, "image/png")
    index = json.loads((tmp_path / "c" / "index.json").read_text())
    index["files"]["/files/a/cat.png"]["content_type"] = "image/png\r\nX-Evil: 1"
    (tmp_path / "c" / "index.json").write_text(json.dumps(index))
    with pytest.raises(CassetteError, match="cannot be sent as a header"):
        read_cassette(tmp_path / "c")


def test_json_nested_too_deeply_is_refused_not_a_crash(tmp_path: Path) -> None:
    write_one(tmp_path / "c")
    path = next((tmp_path / "c" / "exchanges").iterdir())
    path.write_text('{"seq": 1, "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CassetteError, match="nested too deeply"):
        read_cassette(tmp_path / "c")
