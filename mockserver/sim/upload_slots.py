"""Upload slots: fal's two-step upload (initiate, then PUT the bytes to a URL it gave).

Initiating fixes the file's id and name, so the client knows the final URL
before it sends a byte; the PUT then fills that id in the file store. Slots
expire like files do and are capped in number, so abandoned ones cost nothing.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from mockserver.sim.clock import Clock


@dataclass(frozen=True)
class Slot:
    file_id: str
    name: str
    content_type: str
    expires_at: float
    file_seconds: float | None = None  # how long the file is kept once filled (None: the store's default)


class UploadSlots:
    def __init__(self, clock: Clock, ttl_seconds: float, max_slots: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._max = max_slots
        self._slots: OrderedDict[str, Slot] = OrderedDict()

    def reserve(self, name: str, content_type: str, file_seconds: float | None = None) -> tuple[str, Slot]:
        """A new upload id and the slot it fills (``file_seconds``: the filled file's lifetime)."""
        upload_id = secrets.token_urlsafe(18)
        slot = Slot(secrets.token_hex(12), name, content_type, self._clock.now() + self._ttl, file_seconds)
        self._slots[upload_id] = slot
        while len(self._slots) > self._max:
            self._slots.popitem(last=False)
        return upload_id, slot

    def get(self, upload_id: str) -> Slot | None:
        """The slot for ``upload_id`` while it lasts; a repeated PUT (a retry) fills it again."""
        slot = self._slots.get(upload_id)
        if slot is not None and slot.expires_at <= self._clock.now():
            del self._slots[upload_id]
            return None
        return slot
