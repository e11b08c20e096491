"""String formats the spec uses, checked the way the real services check them.

jsonschema only checks ``format`` when given a checker; without optional
packages it skips ``uri`` silently, so the mock brings its own.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from jsonschema import FormatChecker

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("uri", raises=ValueError)
def is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True  # type errors are reported by "type", not twice
    if value.startswith("data:"):
        # data:[<mediatype>][;base64],<data>
        return "," in value
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc)


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMAT_CHECKER.checks("regex", raises=re.error)
def is_regex(value: object) -> bool:
    if isinstance(value, str):
        re.compile(value)
    return True
