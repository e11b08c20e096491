"""Builds the status URL from the full endpoint id instead of using status_url."""

import time

import httpx
from _common import BASE, HEADERS, TEXT, done, submit

ticket = submit({"prompt": "my own urls"}).json()
time.sleep(0.2)
done(str(httpx.get(f"{BASE}/{TEXT}/requests/{ticket['request_id']}/status", headers=HEADERS).status_code))
