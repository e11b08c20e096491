"""Polls the status in a tight loop, with no pause between polls."""

import httpx
from _common import HEADERS, done, submit

ticket = submit({"prompt": "are we there yet"}).json()
while httpx.get(ticket["status_url"], headers=HEADERS).json()["status"] != "COMPLETED":
    pass
httpx.get(ticket["response_url"], headers=HEADERS)
done("ok")
