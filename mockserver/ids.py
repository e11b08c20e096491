"""Random ids (request ids, file ids), drawn from a buffered pool of OS randomness.

``uuid.uuid4()`` asks the kernel for 16 bytes on every call; at thousands of
submits a second that system call showed in profiles. The pool asks for 4 KB
at a time: the ids are just as unpredictable, 256 to a call.
"""

from __future__ import annotations

import os
import threading

_POOL_BYTES = 4096


class _Pool:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._bytes = b""
        self._at = 0
        # Mocks serving from several threads of one process (test suites) share the pool.
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._at + count > len(self._bytes):
                self._bytes, self._at = os.urandom(_POOL_BYTES), 0
            start = self._at
            self._at = start + count
            return self._bytes[start : start + count]


_POOL = _Pool()
# A forked child must not hand out its parent's ids, nor inherit a lock held by another thread.
os.register_at_fork(after_in_child=_POOL.reset)


def uuid4() -> str:
    """A random (version 4) UUID in its usual 36-character form."""
    raw = bytearray(_POOL.take(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def token_hex(nbytes: int = 16) -> str:
    """``nbytes`` random bytes as hex."""
    return _POOL.take(nbytes).hex()
