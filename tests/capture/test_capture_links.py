"""Which strings in a body the recorder rewrites, and to what."""

from __future__ import annotations

from mockserver.capture.links import Links, starts_url
from mockserver.capture.upstream_routes import RouteTable, default_routes
from mockserver.spec.file_links import FileLinks
from mockserver.spec.loader import default_spec

REC = "https://127.0.0.1:8001"
FILES = FileLinks("/files/")
HOSTS = default_spec().hosts


def fal_links() -> Links:
    return Links(REC, RouteTable(default_routes("https://queue.fal.run", HOSTS)), FILES)


def test_upstream_links_lead_to_the_recorder_under_their_route() -> None:
    links = fal_links()
    assert links.to_client("https://queue.fal.run/fal-ai/flux-pro/requests/r1/status") == (
        f"{REC}/fal-ai/flux-pro/requests/r1/status"
    )
    assert links.to_client("https://fal.run/fal-ai/flux-pro/kontext") == f"{REC}/run/fal-ai/flux-pro/kontext"
    assert links.to_client("https://rest.fal.ai/storage/upload/initiate?x=1") == f"{REC}/storage/upload/initiate?x=1"
    # The upload base fal-client appends /files/upload to: the recorder's origin.
    assert links.to_client("https://v3.fal.media") == REC
    assert links.to_client("https://v3.fal.media/") == REC


def test_foreign_links_data_and_look_alikes_are_left_alone() -> None:
    links = fal_links()
    for text in (
        "https://storage.googleapis.com/bucket/o.png?X-Goog-Signature=abc",
        "data:image/png;base64,iVBORw0KGgo=",
        "https://queue.fal.run.evil.example/x",
        "https://fal.runner.example/x",
        "https://rest.fal.ai/other",
        "a prompt that mentions https://queue.fal.run in passing",
    ):
        assert links.to_client(text) == text


def test_a_port_is_not_a_prefix_of_a_longer_one() -> None:
    assert starts_url("http://h:80/x", "http://h:80")
    assert not starts_url("http://h:8000/x", "http://h:80")
    links = Links(REC, RouteTable(default_routes("http://127.0.0.1:80", HOSTS)), FILES)
    assert links.to_client("http://127.0.0.1:8000/files/abc/x.png") == "http://127.0.0.1:8000/files/abc/x.png"


def test_recorder_links_in_a_request_go_back_to_the_upstream_or_to_a_kept_files_source() -> None:
    links = fal_links()
    kept = {"/files/rabbit/cat.png": "https://v3.fal.media/files/rabbit/cat.png"}
    assert links.to_upstream(f"{REC}/files/rabbit/cat.png", kept) == kept["/files/rabbit/cat.png"]
    assert links.to_upstream(f"{REC}/run/fal-ai/x", kept) == "https://fal.run/fal-ai/x"
    assert links.to_upstream(f"{REC}/fal-ai/x?y=1", kept) == "https://queue.fal.run/fal-ai/x?y=1"
    assert links.to_upstream("https://elsewhere.example/files/rabbit/cat.png", kept) == (
        "https://elsewhere.example/files/rabbit/cat.png"
    )
    assert links.to_upstream(f"{REC}0/fal-ai/x", kept) == f"{REC}0/fal-ai/x"


def test_files_to_keep_are_the_specs_links_on_an_upstream_and_images_elsewhere() -> None:
    links = Links(REC, RouteTable(default_routes("http://127.0.0.1:9000", HOSTS)), FILES)
    assert links.file_path("http://127.0.0.1:9000/files/0123abcd4567/out.jpg") == "/files/0123abcd4567/out.jpg"
    assert links.file_path("http://127.0.0.1:9000/files/upload/0123abcd4567") is None  # an upload slot
    assert links.file_path("http://127.0.0.1:9000/fal-ai/flux-pro/requests/r1") is None
    assert links.file_path("https://v3.fal.media/files/rabbit/Xy1.jpeg") == "/files/rabbit/Xy1.jpeg"
    assert links.file_path("https://cdn.example/out/image.PNG") == "/out/image.PNG"
    assert links.file_path("https://storage.example/b/o.png?X-Goog-Signature=s") is None  # signed: a place to PUT
    assert links.file_path("https://cdn.example/") is None
    assert links.file_path("data:image/png;base64,AAAA") is None
    assert links.file_path("http://[::1") is None  # not a URL at all
