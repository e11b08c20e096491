"""`serve --tls` and `flux-mock env`: unmodified programs reach the mock with nothing but the environment."""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from mockserver import cli
from mockserver.runtime.run_file import RUN_DIR, RunInfo, exports, run_file, running_mocks, write_run_file
from mockserver.runtime.tls import ensure_tls

ROOT = Path(__file__).resolve().parents[2]

# A program written for the real services: it imports the clients and calls them, nothing else.
UNMODIFIED = textwrap.dedent(
    """
    import json, sys
    import fal_client, httpx, openai

    T2I = "fal-ai/flux-pro/kontext/max/text-to-image"
    out = {}
    updates = []
    result = fal_client.subscribe(T2I, {"prompt": "a red kite", "aspect_ratio": "16:9"},
                                  with_logs=True, on_queue_update=updates.append)
    out["subscribe"] = result["images"][0]
    out["updates"] = [type(u).__name__ for u in updates]

    handle = fal_client.submit(T2I, {"prompt": "a blue kite", "seed": 3})
    out["status"] = type(fal_client.status(T2I, handle.request_id, with_logs=True)).__name__
    out["result_seed"] = fal_client.result(T2I, handle.request_id)["seed"]

    out["run"] = fal_client.run(T2I, {"prompt": "a green kite", "aspect_ratio": "9:16"})["images"][0]

    image = httpx.get(out["subscribe"]["url"])
    out["fetched"] = [image.status_code, image.headers["content-type"], len(image.content)]

    client = openai.OpenAI(max_retries=0)
    try:
        answer = client.images.generate(model="black-forest-labs/flux-kontext-max/text-to-image", prompt="a kite")
        out["openai"] = ["ok", answer.data[0].url or answer.data[0].b64_json[:30]]
    except openai.APIStatusError as exc:  # the mock answered, over TLS, at OPENAI_BASE_URL
        out["openai"] = ["status", exc.status_code, str(exc.response.url)]
    json.dump(out, sys.stdout)
    """
)


def test_certificates_are_created_then_reused(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    ca_pem, leaf_pem = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    second = ensure_tls(tmp_path)
    assert second.ca_cert.read_bytes() == ca_pem
    assert second.server_cert.read_bytes() == leaf_pem

    ca = x509.load_pem_x509_certificate(ca_pem)
    leaf = x509.load_pem_x509_certificate(leaf_pem)
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert first.bundle.read_bytes().startswith(ca_pem)
    # The CA may only vouch for loopback names, so trusting it exposes nothing else.
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert x509.DNSName("localhost") in (constraints.value.permitted_subtrees or [])
    assert oct(first.server_key.stat().st_mode & 0o777) == "0o600"


def test_a_damaged_ca_is_replaced_along_with_its_leaf(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    old_leaf = first.server_cert.read_bytes()
    first.ca_cert.write_text("not a certificate")
    second = ensure_tls(tmp_path)
    ca = x509.load_pem_x509_certificate(second.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(second.server_cert.read_bytes())
    leaf.verify_directly_issued_by(ca)
    assert second.server_cert.read_bytes() != old_leaf


def test_exports_name_both_fal_hosts_and_the_bundle() -> None:
    info = RunInfo(
        url="https://127.0.0.1:8443", pid=1, bundle="/state/tls/bundle.pem", api_key=None, ca="/state/tls/ca.pem"
    )
    values = dict(exports(info))
    assert values["REQUESTS_CA_BUNDLE"] == values["CURL_CA_BUNDLE"] == "/state/tls/bundle.pem"
    assert values["NODE_EXTRA_CA_CERTS"] == "/state/tls/ca.pem"
    assert values["FAL_QUEUE_RUN_HOST"] == "127.0.0.1:8443"
    assert values["FAL_RUN_HOST"] == "127.0.0.1:8443/run"
    assert values["SSL_CERT_FILE"] == "/state/tls/bundle.pem"
    assert values["OPENAI_BASE_URL"] == "https://127.0.0.1:8443/v1"
    assert values["FAL_KEY"] == values["OPENAI_API_KEY"] != ""


def test_exports_carry_the_required_key() -> None:
    values = dict(exports(RunInfo(url="https://[::1]:9", pid=1, bundle=None, api_key="s3cret")))
    assert values["FAL_KEY"] == "s3cret"
    assert values["OPENAI_API_KEY"] == "s3cret"
    assert values["FAL_QUEUE_RUN_HOST"] == "[::1]:9"
    assert "SSL_CERT_FILE" not in values


def test_env_without_a_running_mock_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = run_file(tmp_path, 1)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"url": "https://127.0.0.1:1", "pid": 2**22 + 12345, "bundle": None}))
    assert cli.main(["env", "--state-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no running mock" in captured.err


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--tls", "--port", "0", "--time-scale", "0",
         "--state-dir", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed once the socket is bound and the run file written
    assert "listening on https://127.0.0.1:" in first, first
    yield proc, state
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=20)


def test_eval_env_then_an_unmodified_program_works(
    tls_server: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    _proc, state = tls_server
    script = tmp_path / "program.py"
    script.write_text(UNMODIFIED)
    flux_mock = f"{shlex.quote(sys.executable)} -m mockserver"
    # Only what a shell user would have: PATH and HOME, then whatever `flux-mock env` exports.
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    shell = shutil.which("bash") or "/bin/sh"
    done = subprocess.run(
        [shell, "-c", f'eval "$({flux_mock} env --state-dir {shlex.quote(str(state))})" && '
                      f"exec {shlex.quote(sys.executable)} {shlex.quote(str(script))}"],
        env=clean, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    (info,) = running_mocks(state)
    base = info.url
    assert base.startswith("https://")
    assert out["subscribe"]["url"].startswith(f"{base}/files/")
    assert (out["subscribe"]["width"], out["subscribe"]["height"]) == (1392, 752)
    assert out["updates"] and out["updates"][-1] == "Completed"
    assert out["status"] == "Completed"
    assert out["result_seed"] == 3
    assert (out["run"]["width"], out["run"]["height"]) == (752, 1392)
    assert out["fetched"][0] == 200 and out["fetched"][1] == "image/jpeg" and out["fetched"][2] > 1000
    # openai reached the mock's /v1 over TLS with nothing but the exported environment.
    assert out["openai"][0] == "ok", out["openai"]
    assert out["openai"][1].startswith(f"{base}/files/")


@pytest.mark.parametrize(
    ("tool", "command"),
    [
        ("curl", 'curl -sf "https://$FAL_QUEUE_RUN_HOST/_mock/health"'),
        ("node", """node -e 'fetch("https://" + process.env.FAL_QUEUE_RUN_HOST + "/_mock/health")"""
                 """.then(r => r.text()).then(t => console.log(t))'"""),
    ],
)
def test_other_tools_trust_the_mock_through_the_same_exports(
    tls_server: tuple[subprocess.Popen[str], Path], tool: str, command: str, tmp_path: Path
) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    _proc, state = tls_server
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env_command = f"{shlex.quote(sys.executable)} -m mockserver env --state-dir {shlex.quote(str(state))}"
    done = subprocess.run(
        ["bash", "-c", f'eval "$({env_command})" && {command}'],
        env=clean, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"


def test_stopping_the_server_removes_its_run_file(tls_server: tuple[subprocess.Popen[str], Path]) -> None:
    proc, state = tls_server
    assert len(list((state / RUN_DIR).glob("*.json"))) == 1
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    assert list((state / RUN_DIR).glob("*.json")) == []
    # The certificates stay for the next start.
    assert (state / "tls" / "ca.pem").exists()


def test_second_start_reuses_the_ca(tls_server: tuple[subprocess.Popen[str], Path]) -> None:
    proc, state = tls_server
    ca = (state / "tls" / "ca.pem").read_bytes()
    proc.terminate()
    proc.wait(timeout=20)
    again = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--tls", "--port", "0", "--state-dir", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert again.stdout is not None
        assert "listening on https://" in again.stdout.readline()
        assert (state / "tls" / "ca.pem").read_bytes() == ca
    finally:
        again.terminate()
        again.wait(timeout=20)


def test_in_process_server_can_speak_https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fal_client
    import httpx

    from mockserver.testing import MockServer, point_fal_client

    monkeypatch.setenv("FAL_KEY", "k")
    with MockServer(time_scale=0, tls_state_dir=tmp_path) as mock:
        assert mock.tls is not None
        assert mock.url.startswith("https://127.0.0.1:")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{mock.url}/_mock/health")  # not trusted without the mock's CA
        trusting = ssl.create_default_context(cafile=str(mock.tls.ca_cert))
        assert httpx.get(f"{mock.url}/_mock/health", verify=trusting).status_code == 200
        monkeypatch.setenv("SSL_CERT_FILE", str(mock.tls.bundle))
        with point_fal_client(mock.url):
            result = fal_client.subscribe("fal-ai/flux-pro/kontext/max/text-to-image", {"prompt": "tls"})
        assert result["images"][0]["url"].startswith(f"{mock.url}/files/")


def test_env_for_a_plain_http_mock_warns_and_omits_the_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:  # something must answer on the recorded port
        port = listening.getsockname()[1]
        info = RunInfo(url=f"http://127.0.0.1:{port}", pid=os.getpid(), bundle=None, api_key=None)
        write_run_file(tmp_path, info)
        assert cli.main(["env", "--state-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"export FAL_QUEUE_RUN_HOST=127.0.0.1:{port}\n" in captured.out
    assert "SSL_CERT_FILE" not in captured.out
    assert "serve --tls" in captured.err


def test_webhook_options_reach_the_settings() -> None:
    args = cli.build_parser().parse_args(
        ["serve", "--webhook-allow", "hooks.test", "--webhook-allow", "10.0.0.9", "--webhook-attempts", "2",
         "--webhook-backoff", "0.5"]
    )
    settings = cli.settings_from(args)
    assert settings.webhook_allow_hosts == ("hooks.test", "10.0.0.9")
    assert (settings.webhook_attempts, settings.webhook_backoff_seconds) == (2, 0.5)
    # Without the flags: fal's schedule, from the spec.
    defaults = cli.settings_from(cli.build_parser().parse_args(["serve"]))
    assert (defaults.webhook_attempts, defaults.webhook_backoff_seconds) == (None, None)
