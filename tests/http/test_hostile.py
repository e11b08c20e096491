"""Hostile input: every case gets a 4xx in fal's error shape, and the mock stays healthy."""

from __future__ import annotations

import base64
import io
import json
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from mockserver.testing import MockServer

T2I = "/fal-ai/flux-pro/kontext/max/text-to-image"
EDIT = "/fal-ai/flux-pro/kontext/max"
MULTI = "/fal-ai/flux-pro/kontext/max/multi"


@pytest.fixture
def client(instant: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=instant.url, timeout=30) as c:
        yield c


def assert_fal_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert "detail" in body
    if isinstance(body["detail"], str):
        assert body["detail"]
        assert answer.headers.get("x-fal-error-type") == body["error_type"]
    else:
        for issue in body["detail"]:
            assert {"loc", "msg", "type"} <= issue.keys()
    return dict(body)


def assert_healthy(client: httpx.Client) -> None:
    assert client.get("/_mock/health").json()["status"] == "ok"
    ticket = client.post(T2I, json={"prompt": "still alive", "seed": 1})
    assert ticket.status_code == 200
    assert client.get(ticket.json()["response_url"]).status_code == 200


def png_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64," + base64.b64encode(data).decode()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims a size far beyond its (empty) data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def failed_input(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit a job whose input image is bad: it completes, and its result is a 422."""
    ticket = client.post(path, json=body)
    assert ticket.status_code == 200, ticket.text
    status = client.get(ticket.json()["status_url"]).json()
    assert status["status"] == "COMPLETED"
    assert status["error_type"] == "image_load_error"
    return assert_fal_error(client.get(ticket.json()["response_url"]), 422)


# ---- bodies ------------------------------------------------------------------


def test_body_over_the_limit_is_413_declared_or_streamed() -> None:
    with MockServer(time_scale=0, max_body_bytes=2048) as mock, httpx.Client(base_url=mock.url) as client:
        big = {"prompt": "x" * 4096}
        body = assert_fal_error(client.post(T2I, json=big), 413)
        assert body["error_type"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
            yield b'{"prompt": "'
            for _ in range(64):
                yield b"y" * 1024
            yield b'"}'

        streamed = client.post(T2I, content=chunks(), headers={"content-type": "application/json"})
        assert_fal_error(streamed, 413)
        assert client.post(T2I, json={"prompt": "small"}).status_code == 200
        assert_healthy(client)


def test_the_cli_sets_the_body_limit() -> None:
    from mockserver.cli import build_parser, settings_from

    args = build_parser().parse_args(["serve", "--max-body-mb", "0.5"])
    assert settings_from(args).max_body_bytes == 512 * 1024


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 200_000,
        b'{"prompt": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"prompt": "x", "a": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    ],
    ids=["open-brackets", "deep-list", "deep-object"],
)
def test_deeply_nested_json_is_422(client: httpx.Client, raw: bytes) -> None:
    answer = client.post(T2I, content=raw, headers={"content-type": "application/json"})
    body = assert_fal_error(answer, 422)
    assert body["detail"][0]["type"] == "value_error.jsondecode"
    assert_healthy(client)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"prompt": "x", "seed": ' + b"9" * 5000 + b"}",  # past Python's int-parsing limit
        b'{"prompt": "x", "seed": NaN}',
        b'{"prompt": "x", "seed": 1e999}',  # parses to infinity: not an integer
        b'{"prompt": "x", "num_images": 1.5}',
        b"\xff\xfe{}",
        b'{"prompt": "x"',
        b"",
    ],
    ids=["huge-int", "nan", "infinity", "fraction", "not-utf8", "truncated", "empty"],
)
def test_malformed_or_absurd_json_is_422(client: httpx.Client, raw: bytes) -> None:
    answer = client.post(T2I, content=raw, headers={"content-type": "application/json"})
    assert_fal_error(answer, 422)
    assert_healthy(client)


def test_a_number_out_of_range_anywhere_is_422_and_the_journal_still_reads(client: httpx.Client) -> None:
    # 1e400 parses to infinity, which no JSON answer (or journal page) could say back.
    raw = b'{"prompt": "x", "extra": [1e400]}'
    answer = client.post(T2I, content=raw, headers={"content-type": "application/json", "X-Mock-Test-Id": "range"})
    body = assert_fal_error(answer, 422)
    assert body["detail"][0]["type"] == "value_error.jsondecode" and "1e400 is out of range" in answer.text
    journal = client.get("/_mock/journal", params={"test_id": "range"})
    assert journal.status_code == 200
    assert journal.json()["entries"][0]["body"] == f"({len(raw)} bytes, not JSON)"
    assert_healthy(client)


def test_huge_valid_prompt_is_accepted_and_rendered(client: httpx.Client) -> None:
    ticket = client.post(T2I, json={"prompt": "word " * 400_000, "seed": 3})  # 2 MB of prompt
    assert ticket.status_code == 200
    result = client.get(ticket.json()["response_url"])
    assert result.status_code == 200
    image = client.get(result.json()["images"][0]["url"])
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)


def test_prompts_with_controls_and_odd_unicode_render(client: httpx.Client) -> None:
    prompt = "a\x00b\x07c\u202ed\ufeffe\U000e0041\U0001f4a5 \u0301\u200b\x1b[31m" * 50
    raw = json.dumps({"prompt": prompt, "seed": 5}).encode()  # ASCII escapes, astral as pairs
    ticket = client.post(T2I, content=raw, headers={"content-type": "application/json"})
    assert ticket.status_code == 200, ticket.text
    result = client.get(ticket.json()["response_url"])
    assert result.status_code == 200
    assert result.json()["prompt"] == prompt  # echoed as sent, escaped in JSON
    assert client.get(result.json()["images"][0]["url"]).status_code == 200


@pytest.mark.parametrize(
    "raw, loc",
    [
        (b'{"prompt": "a\\ud800b"}', ["body", "prompt"]),
        (b'{"prompt": "x", "image_urls": ["data:,", "\\udfff"]}', ["body", "image_urls", 1]),
        (b'{"prompt": "x", "\\udc00": 1}', ["body"]),
    ],
)
def test_unpaired_surrogate_escapes_are_422_naming_the_field(client: httpx.Client, raw: bytes, loc: list[Any]) -> None:
    answer = client.post(T2I, content=raw, headers={"content-type": "application/json"})
    body = assert_fal_error(answer, 422)
    assert body["detail"][0]["loc"] == loc
    assert body["detail"][0]["type"] == "value_error.unicode"
    assert_healthy(client)


def test_latin1_body_is_rejected_as_not_utf8(client: httpx.Client) -> None:
    raw = '{"prompt": "caf\u00e9"}'.encode("latin-1")
    body = assert_fal_error(client.post(T2I, content=raw, headers={"content-type": "application/json"}), 422)
    assert "UTF-8" in body["detail"][0]["ctx"]["msg"]


# ---- input images ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "data:text/plain;base64," + base64.b64encode(b"hello").decode(),
        data_uri(b"this is not a png at all"),
        "data:image/png;base64,@@@###",
        "data:image/png;base64,",
        data_uri(png_bytes()[:60]),  # truncated
        data_uri(png_declaring(100_000, 100_000)),  # enormous declared dimensions
        data_uri(png_declaring(0x7FFFFFFF, 1)),
    ],
    ids=["text", "garbage", "bad-base64", "empty", "truncated", "declared-10-gigapixel", "declared-2^31-wide"],
)
def test_bad_input_images_end_the_job_with_a_422_naming_the_field(client: httpx.Client, url: str) -> None:
    body = failed_input(client, EDIT, {"prompt": "edit", "image_url": url})
    assert body["detail"][0]["loc"] == ["body", "image_url"]
    assert body["detail"][0]["type"] == "image_load_error"
    assert_healthy(client)


def test_decompression_bomb_is_refused_by_pixel_limit() -> None:
    # 8000x8000 of one colour compresses to a few kB and would decode to 192 MB.
    buf = io.BytesIO()
    Image.new("L", (8000, 8000), 0).save(buf, "PNG", optimize=True)
    assert len(buf.getvalue()) < 200_000
    with MockServer(time_scale=0, max_input_pixels=10_000_000) as mock, httpx.Client(base_url=mock.url) as client:
        body = failed_input(client, EDIT, {"prompt": "bomb", "image_url": data_uri(buf.getvalue())})
        assert "pixel limit" in body["detail"][0]["msg"]
        assert_healthy(client)


def test_thousands_of_image_urls_are_handled_without_decoding_them_all(client: httpx.Client) -> None:
    good = data_uri(png_bytes((32, 32)))
    urls = [good] * 2000 + [f"https://example.invalid/{n}.png" for n in range(2000)]
    ticket = client.post(MULTI, json={"prompt": "crowd", "image_urls": urls, "seed": 9})
    assert ticket.status_code == 200
    result = client.get(ticket.json()["response_url"])
    assert result.status_code == 200
    assert result.json()["images"][0]["width"] > 0
    assert_healthy(client)


def test_a_bad_image_deep_in_a_long_list_is_still_named(client: httpx.Client) -> None:
    good = data_uri(png_bytes((32, 32)))
    urls = [good] * 1500
    urls[1234] = data_uri(png_bytes((32, 32))[:-20])  # truncated: IEND and part of IDAT gone
    body = failed_input(client, MULTI, {"prompt": "crowd", "image_urls": urls})
    assert body["detail"][0]["loc"] == ["body", "image_urls", 1234]


# ---- URLs never fetched --------------------------------------------------------


class _Listener:
    """A TCP port that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connected(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


def test_input_urls_are_never_fetched(client: httpx.Client, instant: MockServer) -> None:
    trap = _Listener()
    try:
        urls = [
            f"http://127.0.0.1:{trap.port}/cat.png",
            f"{instant.url}/_mock/health",  # the mock itself, not one of its files
            f"{instant.url}/files/../../etc/passwd",
            "http://169.254.169.254/latest/meta-data/",
            "ftp://example.invalid/x.png",
            "gopher://127.0.0.1:70/_",
        ]
        ticket = client.post(MULTI, json={"prompt": "look", "image_urls": urls, "seed": 2})
        assert ticket.status_code == 200
        assert client.get(ticket.json()["response_url"]).status_code == 200
        assert not trap.connected()
    finally:
        trap.sock.close()


def test_a_missing_file_of_the_mock_itself_fails_the_input(client: httpx.Client, instant: MockServer) -> None:
    body = failed_input(client, EDIT, {"prompt": "x", "image_url": f"{instant.url}/files/{'ab' * 12}/gone.png"})
    assert "not found" in body["detail"][0]["msg"]


# ---- routes and ids ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/..%2f..%2fetc/passwd",
        "/files/%00/x.png",
        "/files/abc/..%5c..%5cwin.ini",
        "/files/" + "a" * 5000 + "/x.png",
        "/files/%ff%fe/%c0%af.png",
        "/files/abc/x.png%00.jpg",
    ],
)
def test_file_routes_resist_traversal_and_odd_encodings(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert_fal_error(answer, 404)
    assert_healthy(client)


@pytest.mark.parametrize(
    "request_id",
    ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "%00", "%2e%2e", "x" * 4000, "%ff%fe", "a%20b", "💥"],
)
def test_unknown_and_malformed_request_ids_are_404(client: httpx.Client, request_id: str) -> None:
    root = f"/fal-ai/flux-pro/requests/{request_id}"
    assert_fal_error(client.get(f"{root}/status"), 404)
    assert_fal_error(client.get(root), 404)
    cancel = client.put(f"{root}/cancel")
    assert cancel.status_code == 404
    assert cancel.json() == {"status": "NOT_FOUND"}
    assert_healthy(client)


def test_huge_headers_get_a_4xx_and_the_server_lives_on(client: httpx.Client, instant: MockServer) -> None:
    host, port = instant.url.split("://")[1].split(":")
    request = (f"GET /_mock/health HTTP/1.1\r\nHost: {host}\r\nX-Junk: {'a' * 200_000}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(request)
            reply = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            reply = b""
    if reply:  # either refused by the server outright, or answered by the mock
        assert reply.startswith(b"HTTP/1.1 431"), reply[:80]
        assert b'"error_type":"request_header_fields_too_large"' in reply or b"431" in reply
    many = {f"x-h{n}": "v" * 200 for n in range(500)}
    assert_fal_error(client.post(T2I, json={"prompt": "hi"}, headers=many), 431)
    assert_healthy(client)


def test_wrong_content_type_and_methods(client: httpx.Client) -> None:
    assert_fal_error(client.post(T2I, content=b"prompt=x", headers={"content-type": "text/plain"}), 415)
    assert_fal_error(client.delete(T2I), 405)
    assert_fal_error(client.get("/fal-ai/flux-pro/requests/x/status/extra/bits"), 404)
    assert_healthy(client)


@pytest.mark.parametrize("path", [T2I, "/api/fal/proxy", "/v1/images/generations"])
def test_a_client_leaving_mid_body_is_no_server_error(
    client: httpx.Client, instant: MockServer, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Announce 1,000 bytes, send ten, hang up: a scenario rule makes every route read the body first.
    assert client.post("/_mock/scenarios", json={"effect": {"type": "latency", "ms": 1}}).status_code == 201
    host, port = instant.url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
        "x-fal-target-url: https://queue.fal.run/fal-ai/flux-pro/kontext/max/text-to-image\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(head.encode() + b'{"prompt":')
    entries: list[dict[str, Any]] = []
    wait = threading.Event()
    for _ in range(250):  # until the server has noticed the hang-up (at most 5 s)
        entries = client.get("/_mock/journal").json()["entries"]
        if any(e["path"] == path for e in entries):
            break
        wait.wait(0.02)
    assert [e["status"] for e in entries if e["path"] == path] == [499]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert_healthy(client)


def test_digits_of_other_scripts_are_refused_not_crashed_on(client: httpx.Client) -> None:
    # "²" is a digit to str.isdigit but not to int: every place that reads a number from text
    # must say 4xx, never 500.
    text = T2I.lstrip("/")
    ticket = client.post("/files/upload/multipart", headers={"X-Fal-File-Name": "a.bin"}).json()
    part = client.put(f"{ticket['access_url']}/multipart/{ticket['uploadId']}/%C2%B2", content=b"x")
    assert part.status_code == 422
    client.post("/_mock/scenarios", json={"match": {"safety_tolerance_at_most": 2}, "effect": {"type": "flag"}})
    assert client.post(f"/{text}", json={"prompt": "p", "safety_tolerance": "²"}).status_code == 422
    retry = {b"x-mock-fail-status": b"503", b"x-mock-fail-times": b"1", b"x-stainless-retry-count": b"\xb2"}
    body = {"model": "black-forest-labs/flux-kontext-max/text-to-image", "prompt": "p"}
    answer = client.post("/v1/images/generations", json=body, headers=retry)
    assert answer.status_code == 503, answer.text  # the failure asked for, not a crash
