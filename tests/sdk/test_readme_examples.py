"""The README's first fal-client example, run as written (only the address changed) with no key set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mockserver.testing import MockServer

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_URL = "http://127.0.0.1:8000"


def first_python_example() -> str:
    found = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert found, "the README has no Python example"
    return found.group(1)


def test_the_first_python_example_works_without_a_key(tmp_path: Path) -> None:
    code = first_python_example()
    assert DEFAULT_URL in code and "fal_client.subscribe" in code
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAL_")}
    with MockServer(time_scale=0) as mock:
        done = subprocess.run([sys.executable, "-c", code.replace(DEFAULT_URL, mock.url)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith(f"{mock.url}/files/"), done.stdout
