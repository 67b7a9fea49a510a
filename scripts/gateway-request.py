#!/usr/bin/env python3
"""The gateway benchmarks' request: a 4 KB chat completion request, bilingual prose with an HKID,
a phone number and an e-mail address in it. Usage: scripts/gateway-request.py OUT.json"""
import json, sys

para = ("Our clinic in Sha Tin needs a summary of the new appointment policy for patients. "
        "病人可以透過網上系統預約覆診，亦可以致電診所查詢。請用簡單的語言解釋有關安排。 ")
text = "Patient Chan Tai Man, HKID A123456(3), tel +852 9123 4567, e-mail chan.tm@example.com.hk. "
while len(text.encode()) < 3900:
    text += para
body = {"model": "gpt-bench", "messages": [
    {"role": "system", "content": "You are a helpful assistant for a Hong Kong clinic."},
    {"role": "user", "content": text}]}
s = json.dumps(body, ensure_ascii=False)
open(sys.argv[1], "w").write(s)
print(f"request body: {len(s.encode())} bytes")
