"""`flux-mock record` as a user runs it, and the route table it builds."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mockserver.capture.upstream_routes import default_routes
from mockserver.cassette.reader import read_cassette
from mockserver.cassette.writer import Upstream
from mockserver.cli import build_parser, main
from mockserver.runtime.run_file import exports, run_file, running_mocks
from mockserver.runtime.server import bind
from mockserver.runtime.tls import ensure_tls
from mockserver.spec.loader import default_spec
from mockserver.testing import MockServer, RecordingProxy
from tests.helpers import TEXT


def test_record_prints_where_it_listens_records_a_call_and_points_env_at_itself(
    upstream: MockServer, tmp_path: Path
) -> None:
    cassette, state = tmp_path / "cassette", tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "record", "--upstream", upstream.url, "--cassette", str(cassette),
         "--port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # empty if the process died first
        match = re.fullmatch(
            rf"flux-mock \S+ recording to {re.escape(str(cassette))}, listening on (http://127\.0\.0\.1:\d+) "
            rf"\(upstream {re.escape(upstream.url)}\)\n",
            line,
        )
        assert match, (line, process.stderr.read() if process.poll() is not None and process.stderr else "")
        url = match.group(1)
        answer = httpx.post(f"{url}/run/{TEXT}", json={"prompt": "through the recorder"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["images"][0]["url"].startswith(url + "/")
        (info,) = running_mocks(state)
        assert info.url == url and info.upstream == upstream.url
    finally:
        process.terminate()
        process.wait(timeout=10)
    (ex,) = read_cassette(cassette).exchanges
    assert (ex.operation, ex.path, ex.url) == ("runSync", f"/run/{TEXT}", f"{upstream.url}/run/{TEXT}")
    assert not run_file(state, httpx.URL(url).port or 0).exists()  # the run file went with the process


def test_record_tls_uses_serves_ca_and_env_exports_it_without_keys(
    upstream: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "record", "--upstream", upstream.url, "--cassette", str(tmp_path / "c"),
         "--port", "0", "--state-dir", str(state), "--tls"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (https://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert match
        url = match.group(1)
        assert main(["env", "--state-dir", str(state)]) == 0
        exported = capsys.readouterr().out
        bundle = ensure_tls(state).bundle  # the files serve --tls would use
        trusted = ssl.create_default_context(cafile=str(bundle))
        answer = httpx.post(f"{url}/{TEXT}", json={"prompt": "over TLS"}, verify=trusted, timeout=10)
        assert answer.status_code == 200 and answer.json()["status_url"].startswith(url + "/")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert f"export FLUX_MOCK_URL={url}\n" in exported and f"export SSL_CERT_FILE={bundle}\n" in exported
    assert "FAL_KEY=" not in exported and "OPENAI_API_KEY=" not in exported


def test_env_for_a_recorder_leaves_the_clients_keys_alone(upstream: MockServer, tmp_path: Path) -> None:
    names = dict(exports(upstream.run_info()))
    assert "FAL_KEY" in names and "OPENAI_API_KEY" in names
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c") as rec:
        info = rec.run_info()
    recording = dict(exports(info))
    assert info.upstream == upstream.url
    assert "FAL_KEY" not in recording and "OPENAI_API_KEY" not in recording
    assert recording["FLUX_MOCK_URL"] == rec.url and recording["OPENAI_BASE_URL"] == f"{rec.url}/v1"


def test_a_directory_that_is_not_a_cassette_is_refused(
    upstream: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code = main(["record", "--upstream", upstream.url, "--cassette", str(tmp_path / "mine"), "--port", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a cassette to record over" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_port_in_use_is_refused_and_the_old_cassette_kept(
    upstream: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RecordingProxy(upstream=upstream.url, cassette=tmp_path / "c") as rec:
        assert httpx.post(f"{rec.url}/{TEXT}", json={"prompt": "keep me"}, timeout=10).status_code == 200
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        code = main(["record", "--upstream", upstream.url, "--cassette", str(tmp_path / "c"), "--port", str(port)])
    finally:
        taken.close()
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err
    assert len(read_cassette(tmp_path / "c").exchanges) == 1


def _table(*argv: str) -> dict[str, str]:
    args = build_parser().parse_args(["record", "--cassette", "c", *argv])
    return {r.prefix: r.url for r in default_routes(args.upstream, default_spec().hosts, args.route)}


def test_fal_queue_brings_fal_client_s_other_hosts_and_routes_override_them() -> None:
    assert _table("--upstream", "https://queue.fal.run/") == {
        "": "https://queue.fal.run",
        "/run": "https://fal.run",
        "/storage": "https://rest.fal.ai/storage",
        "/tokens": "https://rest.fal.ai/tokens",
        "/files/upload": "https://v3.fal.media/files/upload",
    }
    assert _table("--upstream", "http://127.0.0.1:9000") == {"": "http://127.0.0.1:9000"}
    table = _table("--upstream", "https://queue.fal.run", "--route", "/run=https://gw.example/run",
                   "--route", "/v1/=https://api.example/v1")
    assert table["/run"] == "https://gw.example/run" and table["/v1"] == "https://api.example/v1"


@pytest.mark.parametrize(
    "argv",
    [
        ["--upstream", "ftp://x"],
        ["--upstream", "http://h", "--route", "run=https://fal.run"],
        ["--upstream", "http://h", "--route", "/run"],
        ["--upstream", "http://h?x=1"],
    ],
)
def test_bad_urls_and_routes_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["record", "--cassette", "c", *argv])
    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_routes_are_upstreams_in_the_cassette(upstream: MockServer, tmp_path: Path) -> None:
    code_dir = tmp_path / "c"
    with RecordingProxy(upstream=upstream.url, cassette=code_dir, routes={"/gw": upstream.url + "/run"}) as rec:
        assert httpx.post(f"{rec.url}/gw/{TEXT}", json={"prompt": "via a gateway"}, timeout=10).status_code == 200
    recorded = read_cassette(code_dir)
    assert set(recorded.upstreams) == {Upstream("", upstream.url), Upstream("/gw", upstream.url + "/run")}
    (ex,) = recorded.exchanges
    assert ex.url == f"{upstream.url}/run/{TEXT}" and ex.path == f"/gw/{TEXT}"


def test_an_unreadable_upstream_ca_is_refused(
    upstream: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    argv = ["record", "--upstream", upstream.url, "--cassette", str(tmp_path / "c"), "--port", "0",
            "--upstream-ca", str(tmp_path / "ca.pem")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read --upstream-ca" in err
