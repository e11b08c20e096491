"""Sends a field the schema does not have (fal ignores it; the journal warns)."""

from _common import done, submit, wait

ticket = submit({"prompt": "a lighthouse", "negative_prompt": "fog"}).json()
wait(ticket)
done("ok")
