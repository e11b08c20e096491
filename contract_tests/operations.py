"""Which spec operation a URL belongs to, so any answer can be checked against it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mockserver.testing import Operation, Spec

_PARAM = re.compile(r"\{([^}]+)\}")


class OperationIndex:
    def __init__(self, spec: Spec, base_url: str) -> None:
        self._prefix = urlsplit(base_url).path.rstrip("/")
        entries: list[tuple[int, str, re.Pattern[str], Operation]] = []
        for op in spec.operations:
            spans = op.path_converters()

            def piece(match: re.Match[str], spans: dict[str, str] = spans) -> str:
                return ".+" if spans.get(match.group(1)) == "path" else "[^/]+"

            pattern = "".join(
                piece(m) if m else re.escape(text)
                for text, m in _split(op.path)
            )
            entries.append((op.path.count("{"), op.method, re.compile(f"^{pattern}$"), op))
        entries.sort(key=lambda e: e[0])  # literal paths win over templates
        self._entries = entries

    def find(self, method: str, url: str) -> Operation | None:
        path = urlsplit(url).path
        if self._prefix and path.startswith(self._prefix + "/"):
            path = path[len(self._prefix) :]
        for _, op_method, pattern, op in self._entries:
            if op_method == method.upper() and pattern.match(path):
                return op
        return None


def _split(template: str) -> list[tuple[str, re.Match[str] | None]]:
    """A path template as literal text and ``{param}`` pieces, in order."""
    pieces: list[tuple[str, re.Match[str] | None]] = []
    last = 0
    for match in _PARAM.finditer(template):
        if match.start() > last:
            pieces.append((template[last : match.start()], None))
        pieces.append(("", match))
        last = match.end()
    if last < len(template):
        pieces.append((template[last:], None))
    return pieces
