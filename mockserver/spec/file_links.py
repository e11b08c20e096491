"""The URL of a file the mock serves, built and read back in one place.

Its shape is the path of the operation that serves stored files
(``/files/{file_id}/{file_name}`` in the spec): answers that link to a file
build the URL here, and an input image that points at one of the mock's own
files is recognised here, so the two can never drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mockserver.spec.documents import SpecError
from mockserver.spec.loader import Spec

# The served path must be a literal prefix, then the two parameters, id first.
_TEMPLATE = re.compile(r"^(/(?:[^{}/]+/)*)\{(\w+)\}/\{(\w+)\}$")
# File ids are hex (the file store mints them); anything else is not one of ours.
_FILE_ID = r"[0-9a-f]{8,64}"


@dataclass(frozen=True)
class FileLinks:
    prefix: str  # the path up to the file id, with its slashes: "/files/"
    _path: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_path", re.compile(rf"^{re.escape(self.prefix)}({_FILE_ID})/[^/]+$"))

    @classmethod
    def of(cls, spec: Spec, handler: str) -> FileLinks:
        """The links served by the operation whose ``x-mock-handler`` is ``handler``."""
        serving = [op for op in spec.operations if op.handler == handler]
        if len(serving) != 1:
            raise SpecError(f"the spec needs exactly one operation with x-mock-handler {handler}, not {len(serving)}")
        op = serving[0]
        match = _TEMPLATE.match(op.path)
        if match is None or op.path_converters():
            raise SpecError(f"{op.operation_id}: path {op.path} is not a prefix, then {{file id}}/{{file name}}")
        return cls(match.group(1))

    def url(self, base: str, file_id: str, file_name: str) -> str:
        """The absolute URL of a stored file, on the address ``base`` the client used."""
        return f"{base}{self.prefix}{file_id}/{file_name}"

    def file_id_in(self, path: str) -> str | None:
        """The file id a URL path names, when it is the path of one of the mock's files."""
        match = self._path.match(path)
        return match.group(1) if match else None
