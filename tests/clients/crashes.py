"""Behaves, then exits with an error."""

import sys

from _common import submit, wait

wait(submit({"prompt": "fine"}).json())
sys.exit(3)
