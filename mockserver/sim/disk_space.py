"""Room on disk for large uploads: one directory, one byte budget, and the spool that fills it.

Uploads past a size (``Settings.upload_spool_bytes``) and every part of a
multipart upload are written here as they arrive, so the server never holds
them whole in memory. Everything in the directory shares one budget: a write
that would pass it first asks the owners of stored bytes to give some up (the
file store drops its oldest files on disk, the multipart sessions their
expired parts), and is refused with :class:`DiskFull` when they cannot.

The directory is made on first use, inside ``root`` (the state directory's
``uploads/`` when serving) or, without one, as a temporary directory. It goes
with everything in it on :meth:`DiskSpace.close` (the server's shutdown), or at
exit when nobody closed it. A directory left in ``root`` by a mock that was
killed is removed by the next mock that uses the same root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DIGEST_SIZE = 12  # of the blake2b digests that make ETags (as FileStore's for files in memory)


class DiskFull(Exception):
    """The budget is taken by what cannot be given up (unfinished uploads)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"the mock's disk space for uploads ({max_bytes} bytes) is full of unfinished uploads; "
            "finish or abandon them, or start the mock with a larger --max-disk-mb"
        )


@dataclass(frozen=True)
class DiskPart:
    """A file in the disk space: an upload, or one part of one."""

    path: Path
    size: int
    digest: bytes  # blake2b of the bytes, DIGEST_SIZE long


# Frees bytes for a write of ``needed`` more; whatever it gives up it releases itself.
# Called with the bytes needed and whether to give up only what has expired: every owner's
# expired files go before anyone's live ones.
Reclaimer = Callable[[int, bool], None]


class DiskSpace:
    def __init__(self, root: Path | None, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.used = 0
        self._directory: Path | None = None
        self._reclaimers: list[Reclaimer] = []
        self._finalizer: weakref.finalize[[str, bool], DiskSpace] | None = None

    @property
    def directory(self) -> Path | None:
        """Where the files are, once the first was written."""
        return self._directory

    def add_reclaimer(self, reclaim: Reclaimer) -> None:
        self._reclaimers.append(reclaim)

    def reserve(self, size: int) -> None:
        """Count ``size`` more bytes as used, making room first if need be; DiskFull when there is none."""
        if self.used + size > self.max_bytes and not self._reclaim(size):
            raise DiskFull(self.max_bytes)
        self.used += size

    def _reclaim(self, size: int) -> bool:
        for expired_only in (True, False):
            for reclaim in self._reclaimers:
                reclaim(size, expired_only)
                if self.used + size <= self.max_bytes:
                    return True
        return False

    def release(self, size: int) -> None:
        self.used = max(0, self.used - size)

    def new_file(self) -> tuple[Path, BinaryIO]:
        """A new empty file, open for writing."""
        path = self._ensure_directory() / secrets.token_hex(12)
        return path, open(path, "xb")  # the spool closes it when the upload ends

    def delete(self, part: DiskPart) -> None:
        """Remove a file and give its bytes back to the budget."""
        with contextlib.suppress(FileNotFoundError):
            part.path.unlink()
        self.release(part.size)

    def close(self) -> None:
        """Remove the directory and everything in it."""
        if self._finalizer is not None:
            self._finalizer()  # once: a finalizer called again does nothing
        self._directory = None
        self.used = 0

    def _ensure_directory(self) -> Path:
        if self._directory is not None and self._directory.is_dir():
            return self._directory
        if self.root is None:
            made = Path(tempfile.mkdtemp(prefix="flux-mock-uploads-"))
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            _remove_orphans(self.root)
            made = self.root / f"{os.getpid()}-{secrets.token_hex(4)}"
            made.mkdir(mode=0o700)
        self._directory = made
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(made), True)
        return made


def _remove_orphans(root: Path) -> None:
    """Directories of mocks that are no longer running (killed before they could clean up)."""
    for entry in root.iterdir():
        pid_text = entry.name.split("-", 1)[0]
        if entry.is_dir() and pid_text.isascii() and pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, so one that exists
        return True
    return True


class Spool:
    """One upload as it arrives: kept in memory up to ``memory_bytes``, then written to the disk space.

    With ``memory_bytes`` 0 every byte goes to disk (multipart parts). Bytes
    on disk are counted in the budget as they are written; whoever takes the
    finished part owns them, and :meth:`discard` gives them back.
    """

    def __init__(self, disk: DiskSpace, memory_bytes: int) -> None:
        self._disk = disk
        self._memory_bytes = memory_bytes
        self._chunks: list[bytes] = []
        self._hash = hashlib.blake2b(digest_size=DIGEST_SIZE)
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._on_disk = 0  # bytes written to the file, all of them reserved
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Take one chunk; DiskFull when it does not fit (nothing of it is kept)."""
        if not chunk:
            return
        if self._file is None and self.size + len(chunk) > self._memory_bytes:
            self._start_file()
        if self._file is None:
            self._chunks.append(chunk)
        else:
            self._disk.reserve(len(chunk))
            self._on_disk += len(chunk)
            self._file.write(chunk)  # to the page cache: quick enough not to hold up the loop
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> bytes | DiskPart:
        """The whole upload: its bytes when they stayed in memory, else its file (now the caller's)."""
        if self._file is None or self._path is None:
            data = b"".join(self._chunks)
            self._chunks = []
            return data
        self._file.close()
        part = DiskPart(self._path, self._on_disk, self._hash.digest())
        self._file = self._path = None
        self._on_disk = 0
        return part

    def discard(self) -> None:
        """Forget what was received, deleting the file if one was written; nothing after :meth:`finish`."""
        self._chunks = []
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._path is not None:
            self._disk.delete(DiskPart(self._path, self._on_disk, b""))
            self._path = None
            self._on_disk = 0

    def _start_file(self) -> None:
        """Move to disk: what was held in memory is written first."""
        self._path, self._file = self._disk.new_file()
        held, self._chunks = b"".join(self._chunks), []
        if held:
            self._disk.reserve(len(held))
            self._on_disk = len(held)
            self._file.write(held)
