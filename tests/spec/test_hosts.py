"""The spec's map of the real service's hosts (x-mock-hosts): read back, and checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.spec.documents import SpecError
from mockserver.spec.hosts import Host, HostMap
from mockserver.spec.loader import Spec, default_spec
from tests.helpers import specs_with

RUN_HOST = '  - {prefix: /run, url: "https://fal.run"}'


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://fal.run/fal-ai/flux-pro/kontext?x=1", "/run/fal-ai/flux-pro/kontext"),
        ("https://FAL.RUN:443/fal-ai/x", "/run/fal-ai/x"),  # hosts without case, default port
        ("https://fal.run", "/run"),
        ("https://queue.fal.run/fal-ai/flux-pro/requests/r1/status", "/fal-ai/flux-pro/requests/r1/status"),
        ("https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3", "/storage/upload/initiate"),
        ("https://rest.fal.ai/tokens/", "/tokens/"),
        ("https://v3.fal.media/files/upload", "/files/upload"),
    ],
)
def test_a_real_url_reads_back_to_the_mock_s_path(url: str, path: str) -> None:
    assert default_spec().hosts.local_path(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "https://fal.runner.example/x",  # not the host, only a name that starts like it
        "http://fal.run/x",  # another scheme is another origin
        "https://fal.run:8443/x",
        "https://rest.fal.ai/storagex/y",  # a prefix is matched by whole segments
        "https://rest.fal.ai/STORAGE/upload",  # paths keep their case
        "https://v3.fal.media/files/rabbit/cat.png",  # a host the map names only in part
        "http://127.0.0.1:8000/fal-ai/x",
        "not a url",
        "http://[::1",
    ],
)
def test_urls_the_map_does_not_name_read_back_to_nothing(url: str) -> None:
    assert default_spec().hosts.local_path(url) is None


def test_the_root_is_the_queue_host_only() -> None:
    hosts = default_spec().hosts
    assert hosts.root("https://queue.fal.run") and hosts.root("https://queue.fal.run/")
    assert hosts.root("https://QUEUE.fal.run:443")  # as local_path reads it: hosts without case, default port
    assert not hosts.root("https://queue.fal.run/fal-ai") and not hosts.root("http://[::1")
    assert not hosts.root("https://fal.run") and not hosts.root("http://127.0.0.1:8000")


def test_the_longest_base_path_wins() -> None:
    hosts = HostMap([Host("", "https://h.example"), Host("/deep", "https://h.example/a/b")])
    assert hosts.local_path("https://h.example/a/b/c") == "/deep/c"
    assert hosts.local_path("https://h.example/a/c") == "/a/c"


def test_the_map_is_read_from_the_spec(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, RUN_HOST, '  - {prefix: /run, url: "https://sync.example.test/v2"}')
    hosts = Spec.load(paths).hosts
    assert hosts.local_path("https://sync.example.test/v2/fal-ai/x") == "/run/fal-ai/x"
    assert hosts.local_path("https://fal.run/fal-ai/x") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('  - {prefix: /run, url: "ftp://fal.run"}', "is not an http:// or https:// URL"),
        ('  - {prefix: /run, url: "https://fal.run?x=1"}', "takes no query"),
        ('  - {prefix: run, url: "https://fal.run"}', "must start with /"),
        ('  - {prefix: /run, url: "https://fal.run", host: x}', "exactly prefix and url"),
        ('  - {prefix: /run, url: 7}', "must be text"),
        ('  - {prefix: "", url: "https://fal.run"}', "second host"),
        ('  - {prefix: /sync, url: "https://fal.run"}', "no path of the spec is under it"),
        ('  - /run', "exactly prefix and url"),
    ],
)
def test_a_bad_entry_stops_loading(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(SpecError, match="x-mock-hosts") as raised:
        Spec.load(specs_with(tmp_path, RUN_HOST, entry))
    assert message in str(raised.value)


def test_a_prefix_given_in_two_documents_stops_loading(tmp_path: Path) -> None:
    twice = '  - {prefix: /storage, url: "https://rest.fal.ai/storage"}\n  - {prefix: /run, url: "https://x.test"}'
    with pytest.raises(SpecError, match="'/run' a second host"):
        Spec.load(specs_with(tmp_path, '  - {prefix: /storage, url: "https://rest.fal.ai/storage"}', twice,
                             document="fal-platform.yaml"))


def test_a_map_that_is_not_a_list_stops_loading(tmp_path: Path) -> None:
    old = 'x-mock-hosts:\n  - {prefix: "", url: "https://queue.fal.run"}\n' + RUN_HOST + "\n"
    with pytest.raises(SpecError, match="x-mock-hosts must be a list"):
        Spec.load(specs_with(tmp_path, old, 'x-mock-hosts: {"": "https://queue.fal.run"}\n'))
