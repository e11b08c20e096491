"""An unmodified openai SDK program: base URL and key come from the environment (OPENAI_BASE_URL, OPENAI_API_KEY).

The SDK retries rate limits and server errors itself, waiting as
``retry-after-ms`` says; the program only notes a prompt that still failed.
"""

import openai

MODEL = "black-forest-labs/flux-kontext-max/text-to-image"
PROMPTS = ("crash the model", "nsfw sketch", "a paper boat")

client = openai.OpenAI(max_retries=4)
made = 0
for prompt in PROMPTS:
    try:
        answer = client.images.generate(model=MODEL, prompt=prompt, n=1, extra_body={"aspect_ratio": "16:9"})
    except openai.APIError as exc:
        print(f"{prompt!r}: {exc}")
        continue
    assert answer.data and (answer.data[0].url or answer.data[0].b64_json), answer
    made += 1

assert made, "no prompt produced an image"
print("OK", made, "images")
