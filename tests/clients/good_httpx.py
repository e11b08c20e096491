"""A well-behaved hand-written client: returned URLs, polite polling, result after COMPLETED."""

from _common import done, submit, wait

ticket = submit({"prompt": "a lighthouse", "num_images": 2}).json()
done(str(len(wait(ticket)["images"])))
