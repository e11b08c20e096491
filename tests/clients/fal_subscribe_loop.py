"""An unmodified fal_client program, as a user would write it: it knows nothing of the mock.

It reaches the mock only through the environment `flux-mock check --tls` gives
it. fal_client retries rate limits, gateway pages and dropped connections on
its own; the program handles what is left (a job the model failed) by trying
the prompt again, a few times, and giving up on prompts the service refuses.
Its budget guard: once the account is out of credit (403), it stops.
"""

import os
import sys

import fal_client
import fal_client.client
import httpx

ENDPOINT = "fal-ai/flux-pro/kontext/max/text-to-image"
PROMPTS = ("crash the model", "nsfw sketch", "a paper boat")

images: list[str] = []


def stop_when_out_of_credit(exc: Exception) -> None:
    if isinstance(exc, fal_client.client.FalClientHTTPError) and exc.status_code == 403:
        print("OK", len(images), "images; then out of credit:", exc)
        sys.exit(0)


for prompt in PROMPTS:
    for _attempt in range(4):
        try:
            result = fal_client.subscribe(ENDPOINT, {"prompt": prompt}, with_logs=True)
        except fal_client.client.FalClientHTTPError as exc:
            stop_when_out_of_credit(exc)
            print(f"{prompt!r}: {exc.status_code} {exc}")
            if exc.status_code < 500:
                break  # refused for its content: another try gets the same answer
            continue
        except httpx.TransportError as exc:
            print(f"{prompt!r}: {exc!r}")
            continue
        images.append(result["images"][0]["url"])
        break

streamed = waited = ""
# Streaming on the run host: the last event is the output (or an error event for a failed job).
for _attempt in range(6):
    try:
        *_, last = fal_client.stream(ENDPOINT, {"prompt": "a streamed kite"})
    except (fal_client.client.FalClientHTTPError, httpx.HTTPError) as exc:
        stop_when_out_of_credit(exc)
        print(f"stream: {exc!r}")
        continue
    if "images" in last:
        images.append(streamed := last["images"][0]["url"])
        break
    print("stream ended with", last)

# A submit with a start deadline and a low priority, as the client offers them.
for _attempt in range(6):
    try:
        handle = fal_client.submit(ENDPOINT, {"prompt": "can wait"}, start_timeout=600, priority="low")
        images.append(waited := handle.get()["images"][0]["url"])
        break
    except (fal_client.client.FalClientHTTPError, httpx.TransportError) as exc:
        stop_when_out_of_credit(exc)
        print(f"low priority: {exc!r}")

host = os.environ["FAL_QUEUE_RUN_HOST"]
assert images, "no prompt produced an image"
assert streamed and waited, "the stream or the low-priority submit never succeeded"
assert all(url.startswith(f"https://{host}/") for url in images), images
print("OK", len(images), "images")
