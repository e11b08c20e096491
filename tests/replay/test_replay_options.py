"""Asking for a replay: the serve options, Settings, MockServer and the flux_mock marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.cassette.layout import CassetteError
from mockserver.cli import build_parser, main, settings_from
from mockserver.testing import MockServer, Settings
from tests.replay.recorded_cassette import PROMPT, Recording


def test_the_options_make_settings() -> None:
    settings = settings_from(build_parser().parse_args(["serve", "--replay", "tapes/a", "--replay-miss", "404"]))
    assert (settings.replay_dir, settings.replay_miss) == (Path("tapes/a"), "404")
    plain = settings_from(build_parser().parse_args(["serve"]))
    assert (plain.replay_dir, plain.replay_miss) == (None, "simulate")


def test_an_unknown_miss_policy_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["serve", "--replay-miss", "ignore"])
    assert stopped.value.code == 2 and "--replay-miss" in capsys.readouterr().err
    with pytest.raises(ValueError, match="replay_miss must be one of simulate, 404"):
        Settings(replay_miss="ignore")


def test_serve_stops_on_a_cassette_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0", "--replay", str(tmp_path / "missing-dir")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flux-mock: ") and "missing-dir" in err and "not a cassette" in err
    assert err.count("\n") == 1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.json").write_text('{"format": 99}')
    assert main(["serve", "--port", "0", "--replay", str(tmp_path / "bad")]) == 2
    assert "format 99" in capsys.readouterr().err


def test_mock_server_refuses_a_missing_cassette(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="not a cassette"):
        MockServer(replay_dir=tmp_path)


USER_SUITE = '''
import httpx
import pytest

TEXT = "/fal-ai/flux-pro/kontext/max/text-to-image"


@pytest.mark.flux_mock(replay={directory!r})
def test_replayed(flux_mock):
    ticket = httpx.post(flux_mock.url + TEXT, json={{"prompt": {prompt!r}}}).json()
    assert ticket["request_id"] == {request_id!r}
    assert ticket["status_url"].startswith(flux_mock.url)
    flux_mock.assert_no_violations(strict=True)


@pytest.mark.flux_mock(replay={directory!r})
def test_a_miss_warns(flux_mock):
    httpx.post(flux_mock.url + TEXT, json={{"prompt": "something else"}})
    assert [v.rule for v in flux_mock.violations()] == ["replay.miss"]


def test_the_shared_mock_does_not_replay(flux_mock):
    ticket = httpx.post(flux_mock.url + TEXT, json={{"prompt": {prompt!r}}}).json()
    assert ticket["request_id"] != {request_id!r}
'''


def test_the_marker_starts_a_replaying_mock(recording: Recording, pytester: pytest.Pytester) -> None:
    suite = USER_SUITE.format(directory=str(recording.directory), prompt=PROMPT,
                              request_id=recording.ticket["request_id"])
    pytester.makepyfile(test_user=suite)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)
