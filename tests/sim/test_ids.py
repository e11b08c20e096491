"""Random ids from the buffered pool."""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid

from mockserver.sim import ids

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_uuid4_is_a_version_4_uuid_in_canonical_form() -> None:
    for _ in range(2000):  # several refills of the pool
        text = ids.uuid4()
        assert UUID4.match(text), text
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_ids_do_not_repeat_across_pool_refills() -> None:
    drawn = [ids.uuid4() for _ in range(20_000)] + [ids.token_hex() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)


def test_token_hex_has_the_asked_length() -> None:
    assert [len(ids.token_hex(n)) for n in (1, 12, 16, 40)] == [2, 24, 32, 80]


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    ids.uuid4()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report one id, then leave without running pytest's exit
        os.write(write, ids.uuid4().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    parent = [ids.uuid4() for _ in range(300)]
    assert UUID4.match(child) and child not in parent


def test_threads_drawing_at_once_never_get_the_same_id() -> None:
    # Each mock in a test process serves from its own thread; they share one pool.
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        for _ in range(20_000):
            into.append(ids.uuid4())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        workers = [threading.Thread(target=draw, args=(d,)) for d in drawn]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    every = [i for d in drawn for i in d]
    assert len(every) == 8 * 20_000 and all(UUID4.match(i) for i in every)  # no thread died on a short draw
    assert len(set(every)) == len(every)
