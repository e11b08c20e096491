"""A well-behaved client: the official fal_client, pointed at the mock through its URL globals."""

import os

import fal_client
import fal_client.client

fal_client.client.QUEUE_URL_FORMAT = os.environ["FAL_QUEUE_URL"]
fal_client.client.RUN_URL_FORMAT = os.environ["FAL_RUN_URL"]

result = fal_client.subscribe(
    "fal-ai/flux-pro/kontext/max/text-to-image", {"prompt": "a lighthouse", "seed": 1}, with_logs=True
)
print(result["images"][0]["url"])
