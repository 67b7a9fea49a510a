"""Drives a running `guardline serve` with the official `openai` Python SDK.

Usage: python openai_compat.py BASE_URL   (e.g. http://127.0.0.1:8080/v1)
The gateway's upstream is the test's mock, which echoes the last user message.
Exits non-zero with a message on the first failed check.
"""
import sys

import openai

base = sys.argv[1]
client = openai.OpenAI(base_url=base, api_key="sk-test-not-used", max_retries=0)
HKID = "A123456(3)"
prompt = f"My HKID is {HKID}, call me on +852 9123 4567."

# Chat, not streamed: the reply restores what was pseudonymised; headers label it.
raw = client.chat.completions.with_raw_response.create(
    model="gpt-test", messages=[{"role": "user", "content": prompt}]
)
assert raw.headers["x-guardline-ai-generated"] == "true", raw.headers
assert raw.headers["x-guardline-decision"] == "transform", raw.headers
chat = raw.parse()
assert chat.choices[0].message.content == f"You said: {prompt}", chat.choices[0].message.content

# Chat, streamed: the SDK's own SSE parser sees well-formed chunks and the restored text.
parts = []
for chunk in client.chat.completions.create(
    model="gpt-test", messages=[{"role": "user", "content": prompt}], stream=True
):
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
text = "".join(parts)
assert text == f"You said: {prompt}", text
assert all("HK_ID" not in p for p in parts), parts

# The Responses API, whole and streamed through the SDK's own stream helper, which rebuilds the
# response from the events and so checks that they add up.
resp = client.responses.create(model="gpt-test", input=prompt)
assert resp.output_text == f"You said: {prompt}", resp.output_text
deltas = []
with client.responses.stream(model="gpt-test", input=prompt) as stream:
    for event in stream:
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
    final = stream.get_final_response()
assert "".join(deltas) == f"You said: {prompt}", deltas
assert all("HK_" not in d for d in deltas), deltas
assert final.output_text == f"You said: {prompt}", final.output_text

# Stored responses: retrieved, listed and deleted through the gateway; a missing one is the
# SDK's NotFoundError.
got = client.responses.retrieve(resp.id)
assert got.output_text == "You said: stored", got.output_text
items = client.responses.input_items.list(resp.id)
assert [i.content[0].text for i in items.data] == ["stored"], items
client.responses.delete(resp.id)
try:
    client.responses.retrieve("resp_9")
    raise AssertionError("a missing stored response was found")
except openai.NotFoundError as e:
    assert e.status_code == 404, e.status_code

# Conversations: items go out pseudonymised and are listed as the upstream stored them.
conv = client.conversations.create(
    items=[{"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}]
)
assert conv.id == "conv_1", conv
listed = client.conversations.items.list(conv.id)
stored_text = listed.data[0].content[0].text
assert HKID not in stored_text and "HK_ID_" in stored_text, stored_text
client.conversations.delete(conv.id)

# Moderations: the input is checked on the way out like any other.
mod = client.moderations.create(input=[prompt, "plain"])
assert [r.flagged for r in mod.results] == [False, False], mod

# Embeddings and models.
emb = client.embeddings.create(model="embed-test", input=["HKID " + HKID, "plain"])
assert len(emb.data) == 1 and emb.data[0].embedding == [0.1, 0.2], emb
models = client.models.list()
assert [m.id for m in models.data] == ["mock-1"], models
assert client.models.retrieve("mock-1").id == "mock-1"

# Errors come back as the SDK's typed exceptions with OpenAI's shape.
try:
    client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "key ghp_R8x2kLm9Qw3Zt7Yb1Nc5Vd6Hf4Js0Ga2PeUq"}],
    )
    raise AssertionError("a secret was not blocked")
except openai.PermissionDeniedError as e:
    assert e.status_code == 403
    assert e.body["code"] == "blocked_by_policy", e.body
try:
    client.chat.completions.create(model="fail", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("an upstream failure was hidden")
except openai.InternalServerError as e:
    assert e.status_code == 500, e.status_code

print("openai SDK compatibility: all checks passed")
