#!/usr/bin/env python3
"""Prints a click token for the benchmark's job, in the format documented in
crates/tutti-core/src/token.rs (an independent implementation: it also checks the format)."""
import base64, hashlib, hmac, sys

def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)

job, key_b64, recipient = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3])
key = base64.urlsafe_b64decode(key_b64 + "=" * (-len(key_b64) % 4))
body = bytes([1, len(job)]) + job + bytes([1]) + varint(0) + varint(recipient) + varint(1_700_000_000) + varint(0)
mac = hmac.new(key, body, hashlib.sha256).digest()[:12]
print(base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode())
