"""Fetches the result right after submitting, without waiting for COMPLETED."""

import httpx
from _common import HEADERS, done, submit

ticket = submit({"prompt": "impatient"}).json()
done(str(httpx.get(ticket["response_url"], headers=HEADERS).status_code))
