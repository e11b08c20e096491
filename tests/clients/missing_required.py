"""Forgets the image to edit."""

from _common import done, submit

done(str(submit({"prompt": "edit what?"}, endpoint="fal-ai/flux-pro/kontext/max").status_code))
