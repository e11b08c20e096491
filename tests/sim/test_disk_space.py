"""The disk space for large uploads, its spool, and the file store's files on disk: no HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.sim.clock import ManualClock
from mockserver.sim.disk_space import DiskFull, DiskPart, DiskSpace, Spool
from mockserver.sim.multipart_uploads import MultipartUploads
from mockserver.sim.stores import FileStore

KB = 1024


def spooled(disk: DiskSpace, data: bytes, memory: int = 0) -> DiskPart:
    spool = Spool(disk, memory)
    for start in range(0, len(data), 1000):
        spool.write(data[start : start + 1000])
    part = spool.finish()
    assert isinstance(part, DiskPart)
    return part


def files_in(disk: DiskSpace) -> list[str]:
    return sorted(os.listdir(disk.directory)) if disk.directory else []


def test_a_spool_keeps_small_uploads_in_memory_and_writes_large_ones_to_disk(tmp_path: Path) -> None:
    disk = DiskSpace(tmp_path, 1024 * KB)
    small = Spool(disk, 4 * KB)
    small.write(b"a" * 3000)
    assert small.finish() == b"a" * 3000
    assert disk.directory is None and disk.used == 0  # nothing touched the disk

    data = os.urandom(10 * KB)
    part = spooled(disk, data, memory=4 * KB)
    assert part.path.read_bytes() == data  # what was held in memory went first, in order
    assert part.size == disk.used == len(data)
    assert part.path.parent.parent == tmp_path and part.path.parent.name.startswith(f"{os.getpid()}-")


def test_a_discarded_spool_leaves_nothing(tmp_path: Path) -> None:
    disk = DiskSpace(tmp_path, 1024 * KB)
    spool = Spool(disk, 0)
    spool.write(b"x" * 5000)
    assert disk.used == 5000 and len(files_in(disk)) == 1
    spool.discard()
    assert disk.used == 0 and files_in(disk) == []


def test_a_write_past_the_budget_is_refused_when_nothing_can_give_way(tmp_path: Path) -> None:
    disk = DiskSpace(tmp_path, 8 * KB)
    spool = Spool(disk, 0)
    spool.write(b"x" * 6 * KB)
    with pytest.raises(DiskFull):
        spool.write(b"x" * 3 * KB)
    assert disk.used == 6 * KB  # the refused chunk was not counted
    spool.discard()
    assert disk.used == 0


def test_close_removes_the_directory_and_a_dead_mocks_directory_goes_too(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"{dead.stdout.strip()}-abcd"
    orphan.mkdir()
    (orphan / "left-behind").write_bytes(b"x")
    alive = tmp_path / f"{os.getppid()}-abcd"  # a running process's: kept
    alive.mkdir()
    disk = DiskSpace(tmp_path, 1024 * KB)
    spooled(disk, b"y" * 2000)
    assert not orphan.exists() and alive.exists()
    directory = disk.directory
    assert directory is not None and directory.is_dir()
    disk.close()
    assert not directory.exists() and disk.used == 0


def test_without_a_root_a_temporary_directory_is_used_and_removed(tmp_path: Path) -> None:
    disk = DiskSpace(None, 1024 * KB)
    spooled(disk, b"z" * 100)
    directory = disk.directory
    assert directory is not None and directory.is_dir()
    disk.close()
    assert not directory.exists()


# ---- the file store's files on disk -------------------------------------------


def test_eviction_deletes_the_oldest_files_on_disk_to_make_room(tmp_path: Path) -> None:
    clock = ManualClock()
    disk = DiskSpace(tmp_path, 100 * KB)
    store = FileStore(clock, max_bytes=1024 * KB, ttl_seconds=60, disk=disk)
    first = spooled(disk, b"1" * 40 * KB)
    first_id = store.put_parts([first], "application/octet-stream", "one.bin")
    second_id = store.put_parts([spooled(disk, b"2" * 40 * KB)], "application/octet-stream", "two.bin")
    memory_id = store.put(b"in memory", "text/plain", "m.txt")
    third = spooled(disk, b"3" * 40 * KB)  # needs the oldest file's room while it is written
    third_id = store.put_parts([third], "application/octet-stream", "three.bin")
    assert store.get(first_id) is None and not first.path.exists()
    assert store.get(second_id) is not None and store.get(third_id) is not None
    assert store.get(memory_id) is not None  # the memory cap is another matter
    assert disk.used == 80 * KB and len(files_in(disk)) == 2


def test_an_expired_file_on_disk_is_deleted(tmp_path: Path) -> None:
    clock = ManualClock()
    disk = DiskSpace(tmp_path, 100 * KB)
    store = FileStore(clock, max_bytes=1024 * KB, ttl_seconds=60, disk=disk)
    part = spooled(disk, b"e" * KB)
    file_id = store.put_parts([part], "application/octet-stream", "e.bin", ttl_seconds=5)
    clock.advance(5)
    assert store.get(file_id) is None
    assert not part.path.exists() and disk.used == 0


def test_a_file_of_several_parts_reads_in_order_up_to_a_limit(tmp_path: Path) -> None:
    disk = DiskSpace(tmp_path, 100 * KB)
    store = FileStore(ManualClock(), max_bytes=KB, ttl_seconds=60, disk=disk)
    parts = [spooled(disk, bytes([65 + n]) * 1500) for n in range(3)]
    stored = store.get(store.put_parts(parts, "text/plain", "abc.txt"))
    assert stored is not None and stored.on_disk and stored.size == 4500
    assert stored.read(10_000) == b"A" * 1500 + b"B" * 1500 + b"C" * 1500
    assert stored.read(1501) == b"A" * 1500 + b"B"
    assert stored.etag.endswith('-3"')  # several parts: marked with their count, as S3 does


def test_replacing_a_reserved_file_deletes_what_it_held_on_disk(tmp_path: Path) -> None:
    disk = DiskSpace(tmp_path, 100 * KB)
    store = FileStore(ManualClock(), max_bytes=KB, ttl_seconds=60, disk=disk)
    old = spooled(disk, b"o" * KB)
    file_id = store.put_parts([old], "text/plain", "r.txt")
    store.put(b"new", "text/plain", "r.txt", file_id=file_id)  # a retried PUT, small this time
    assert not old.path.exists() and disk.used == 0
    stored = store.get(file_id)
    assert stored is not None and stored.data == b"new"


def test_room_is_made_from_expired_files_before_live_ones(tmp_path: Path) -> None:
    # Lifetimes differ by file (lifecycle headers): the oldest file may well outlive a younger one.
    clock = ManualClock()
    disk = DiskSpace(tmp_path, 100 * KB)
    store = FileStore(clock, max_bytes=1024 * KB, ttl_seconds=3600, disk=disk)
    lasting = store.put_parts([spooled(disk, b"L" * 40 * KB)], "application/octet-stream", "lasting.bin")
    brief = store.put_parts([spooled(disk, b"b" * 40 * KB)], "application/octet-stream", "brief.bin", 60)
    clock.advance(61)
    store.put_parts([spooled(disk, b"n" * 40 * KB)], "application/octet-stream", "new.bin")
    assert store.get(lasting) is not None and store.get(brief) is None
    assert disk.used == 80 * KB


def test_an_expired_upload_session_gives_way_before_a_live_file(tmp_path: Path) -> None:
    clock = ManualClock()
    disk = DiskSpace(tmp_path, 100 * KB)
    store = FileStore(clock, max_bytes=1024 * KB, ttl_seconds=7200, disk=disk)  # the store registers first
    uploads = MultipartUploads(clock, disk, ttl_seconds=60, max_bytes=100 * KB)
    upload_id, session = uploads.start("big.bin", "application/octet-stream")
    uploads.add_part(upload_id, session.file_id, session.name, 1, spooled(disk, b"p" * 60 * KB))
    live = store.put_parts([spooled(disk, b"f" * 20 * KB)], "application/octet-stream", "live.bin")
    clock.advance(61)  # the session has expired; the file lives on
    store.put_parts([spooled(disk, b"n" * 30 * KB)], "application/octet-stream", "new.bin")
    assert store.get(live) is not None
    assert disk.used == 50 * KB
