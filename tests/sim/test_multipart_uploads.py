"""Multipart sessions on an injected clock: parts, completion, expiry and caps, with no HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.sim.clock import ManualClock
from mockserver.sim.disk_space import DiskPart, DiskSpace, Spool
from mockserver.sim.multipart_uploads import (
    MultipartUploads,
    PartsMismatch,
    UploadCompleted,
    UploadNotFound,
    UploadTooLarge,
    part_etag,
)

TTL = 600.0


@pytest.fixture
def disk(tmp_path: Path) -> DiskSpace:
    return DiskSpace(tmp_path, 1024 * 1024)


def part(disk: DiskSpace, data: bytes) -> DiskPart:
    spool = Spool(disk, 0)
    spool.write(data)
    received = spool.finish()
    assert isinstance(received, DiskPart)
    return received


def test_parts_in_any_order_complete_in_their_numbers_order(disk: DiskSpace) -> None:
    uploads = MultipartUploads(ManualClock(), disk, TTL, max_bytes=10_000)
    upload_id, session = uploads.start("f.bin", "application/octet-stream")
    where = (upload_id, session.file_id, session.name)
    received = {n: part(disk, bytes([48 + n]) * 100) for n in (3, 1, 2)}
    for number, piece in received.items():  # as fal-client's ten threads finish
        uploads.add_part(*where, number, piece)
    listed = [(n, part_etag(received[n])) for n in (2, 3, 1)]
    done, parts = uploads.complete(*where, listed)
    assert [p.path.read_bytes()[:1] for p in parts] == [b"1", b"2", b"3"]
    assert done.completed and done.size == 300
    again, none = uploads.complete(*where, listed)  # a retry whose answer was lost
    assert again is done and none == []
    with pytest.raises(UploadCompleted):
        uploads.add_part(*where, 4, part(disk, b"late"))
    assert disk.used == 300  # the late part was deleted; the three are the caller's now


@pytest.mark.parametrize(
    ("sent", "listed", "words"),
    [
        ((1, 2), (1, 3), "Part 2 is missing from the list"),
        ((1, 3), (1, 2, 3), "Part 2 was never uploaded"),
        ((1, 2, 3), (1, 2), "Part 3 was uploaded but is not listed"),
        ((1, 2), (1, 2, 2), "Part 2 is listed more than once"),
    ],
)
def test_a_listing_that_does_not_match_the_parts_changes_nothing(
    disk: DiskSpace, sent: tuple[int, ...], listed: tuple[int, ...], words: str
) -> None:
    uploads = MultipartUploads(ManualClock(), disk, TTL, max_bytes=10_000)
    upload_id, session = uploads.start("f.bin", "application/octet-stream")
    where = (upload_id, session.file_id, session.name)
    etags = {}
    for number in sent:
        piece = part(disk, b"p" * number)
        uploads.add_part(*where, number, piece)
        etags[number] = part_etag(piece)
    with pytest.raises(PartsMismatch, match=words):
        uploads.complete(*where, [(n, etags.get(n, '"x"')) for n in listed])
    assert not session.completed and sorted(session.parts) == sorted(sent)
    assert all(p.path.exists() for p in session.parts.values())


def test_a_wrong_etag_is_refused_and_a_resent_part_replaces_the_first(disk: DiskSpace) -> None:
    uploads = MultipartUploads(ManualClock(), disk, TTL, max_bytes=10_000)
    upload_id, session = uploads.start("f.bin", "application/octet-stream")
    where = (upload_id, session.file_id, session.name)
    first = part(disk, b"first")
    uploads.add_part(*where, 1, first)
    second = part(disk, b"second!")
    uploads.add_part(*where, 1, second)  # a retry of part 1
    assert not first.path.exists() and session.size == 7 and disk.used == 7
    with pytest.raises(PartsMismatch, match="etag"):
        uploads.complete(*where, [(1, part_etag(first))])
    _, parts = uploads.complete(*where, [(1, part_etag(second))])
    assert parts == [second]


def test_an_upload_expires_on_the_clock_and_its_parts_are_deleted(disk: DiskSpace) -> None:
    clock = ManualClock()
    uploads = MultipartUploads(clock, disk, TTL, max_bytes=10_000)
    upload_id, session = uploads.start("f.bin", "application/octet-stream")
    piece = part(disk, b"abc")
    uploads.add_part(upload_id, session.file_id, session.name, 1, piece)
    clock.advance(TTL - 1)
    assert uploads.get(upload_id) is session
    clock.advance(1)
    assert uploads.get(upload_id) is None
    assert not piece.path.exists() and disk.used == 0
    with pytest.raises(UploadNotFound):
        uploads.complete(upload_id, session.file_id, session.name, [(1, part_etag(piece))])


def test_expired_uploads_give_their_room_to_new_parts(tmp_path: Path) -> None:
    clock = ManualClock()
    disk = DiskSpace(tmp_path, 1000)
    uploads = MultipartUploads(clock, disk, TTL, max_bytes=1000)
    upload_id, session = uploads.start("old.bin", "application/octet-stream")
    uploads.add_part(upload_id, session.file_id, session.name, 1, part(disk, b"o" * 800))
    clock.advance(TTL)
    fresh = part(disk, b"n" * 800)  # fits only once the expired upload's part is gone
    assert fresh.size == 800 and disk.used == 800 and len(uploads) == 0


def test_the_url_must_name_the_uploads_own_file(disk: DiskSpace) -> None:
    uploads = MultipartUploads(ManualClock(), disk, TTL, max_bytes=10_000)
    upload_id, session = uploads.start("f.bin", "application/octet-stream")
    piece = part(disk, b"x")
    with pytest.raises(UploadNotFound):
        uploads.add_part(upload_id, "0" * 24, session.name, 1, piece)
    assert not piece.path.exists()  # refused parts are deleted
    with pytest.raises(UploadNotFound):
        uploads.open_session(upload_id, session.file_id, "other.bin")


def test_parts_together_stay_within_the_upload_limit(disk: DiskSpace) -> None:
    uploads = MultipartUploads(ManualClock(), disk, TTL, max_bytes=100)
    upload_id, session = uploads.start("f.bin", "application/octet-stream")
    where = (upload_id, session.file_id, session.name)
    uploads.add_part(*where, 1, part(disk, b"a" * 60))
    assert uploads.room_for(session, 2) == 40 and uploads.room_for(session, 1) == 100
    too_much = part(disk, b"b" * 41)
    with pytest.raises(UploadTooLarge):
        uploads.add_part(*where, 2, too_much)
    assert not too_much.path.exists() and session.size == 60 and disk.used == 60


def test_past_the_cap_the_oldest_unfinished_upload_goes(disk: DiskSpace) -> None:
    uploads = MultipartUploads(ManualClock(), disk, TTL, max_bytes=10_000, max_sessions=2)
    oldest, session = uploads.start("a.bin", "application/octet-stream")
    piece = part(disk, b"a")
    uploads.add_part(oldest, session.file_id, session.name, 1, piece)
    uploads.start("b.bin", "application/octet-stream")
    uploads.start("c.bin", "application/octet-stream")
    assert len(uploads) == 2 and uploads.get(oldest) is None
    assert not piece.path.exists() and disk.used == 0
