"""File URLs are built and read back from the one path the spec serves files at."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.http.routes.files import FILE_HANDLER
from mockserver.spec.documents import SpecError
from mockserver.spec.file_links import FileLinks
from mockserver.spec.loader import Spec
from mockserver.testing import MockServer
from tests.helpers import EDIT, data_uri, decode, share_of_colour, specs_with

MAGENTA = (255, 0, 255)




def test_a_built_url_reads_back_as_its_file_id() -> None:
    links = FileLinks.of(Spec.load(), FILE_HANDLER)
    url = links.url("http://127.0.0.1:9", "0123456789abcdef01234567", "out.png")
    assert url == "http://127.0.0.1:9/files/0123456789abcdef01234567/out.png"
    assert links.file_id_in("/files/0123456789abcdef01234567/out.png") == "0123456789abcdef01234567"
    assert links.file_id_in("/files/upload/0123456789abcdef01234567") is None
    assert links.file_id_in("/files/not-hex/out.png") is None
    assert links.file_id_in("/cdn/0123456789abcdef01234567/out.png") is None


def test_files_served_elsewhere_are_linked_and_read_as_inputs_from_there(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "\n  /files/{file_id}/{file_name}:\n", "\n  /cdn/v2/{file_id}/{file_name}:\n")
    with MockServer(time_scale=0, spec_paths=paths) as mock, httpx.Client(base_url=mock.url, timeout=30) as http:
        first = http.post(f"/run/{EDIT}", json={"prompt": "x", "image_url": data_uri((640, 480), MAGENTA)})
        source = first.json()["images"][0]["url"]
        assert source.startswith(f"{mock.url}/cdn/v2/")
        edited = http.post(f"/run/{EDIT}", json={"prompt": "y", "image_url": source}).json()["images"][0]["url"]
        picture = decode(http.get(edited).content)
        assert share_of_colour(picture, MAGENTA) > 0.01  # the input was read from the mock's own store


def test_a_file_path_of_another_shape_stops_start_up(tmp_path: Path) -> None:
    paths = specs_with(tmp_path, "\n  /files/{file_id}/{file_name}:\n", "\n  /files/{file_name}/{file_id}/raw:\n")
    with pytest.raises(SpecError, match=r"getFile: path /files/\{file_name\}/\{file_id\}/raw is not a prefix"):
        MockServer(spec_paths=paths)
