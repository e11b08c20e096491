"""The recorder's tests: an upstream mock to record from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockserver.testing import MockServer


@pytest.fixture
def upstream() -> Iterator[MockServer]:
    """A real mock whose jobs complete at once, for the recorder to stand in front of."""
    with MockServer(time_scale=0) as server:
        yield server
