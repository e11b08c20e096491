"""Sends num_images as a string."""

from _common import done, submit

done(str(submit({"prompt": "two please", "num_images": "2"}).status_code))
