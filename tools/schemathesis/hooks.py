"""Schemathesis hooks for tools/schemathesis/run.sh (loaded through SCHEMATHESIS_HOOKS=hooks).

POST /api/v1/analysis/predict takes a raw `audio/*` body. Schemathesis sends no body for a media
type it has no serializer for, so this registers one for `audio/wav` (what `audio/*` resolves to).
It sends a real WAV file, so the predict route gets past decoding and its 200 answer is checked
against the Prediction schema; `application/octet-stream` and multipart uploads keep getting
schemathesis's arbitrary bytes (the 422 path).

With FUZZ_LIBRARY_ROOT=DIR (scripts/fuzz-api sets it), every absolute `path` sent to
POST /api/v1/libraries is moved under DIR (`/` becomes DIR, `/a/../b` becomes DIR/a/b), so the
fuzzer cannot make the server scan the machine's disk (`/`, `/home`, ...). Relative paths go out
unchanged and control characters stay: the server must still refuse those (400).
"""
import io
import math
import os
import posixpath
import struct
import wave
import zlib

import schemathesis

RATE = 22050
SECONDS = 4  # longer than one ~3 s network chunk


def _wav(seed: int) -> bytes:
    """Mono 16-bit PCM: two sines whose pitches follow `seed`, so the cases differ."""
    f1 = 110.0 * (1 + seed % 24 / 12)
    f2 = f1 * (1.5 + (seed >> 5) % 3 / 4)
    frames = bytearray()
    for i in range(RATE * SECONDS):
        t = i / RATE
        v = 0.4 * math.sin(2 * math.pi * f1 * t) + 0.2 * math.sin(2 * math.pi * f2 * t)
        frames += struct.pack("<h", int(v * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))
    return out.getvalue()


@schemathesis.serializer("audio/wav")
def audio_wav(ctx, value):
    raw = value if isinstance(value, bytes) else repr(value).encode()
    return _wav(zlib.crc32(raw))


LIBRARY_ROOT = os.environ.get("FUZZ_LIBRARY_ROOT", "").rstrip("/")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if not LIBRARY_ROOT:
        return
    operation = case.operation
    if operation.method.upper() != "POST" or operation.path != "/api/v1/libraries":
        return
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("path"), str) or not body["path"].startswith("/"):
        return
    parts = [part for part in body["path"].split("/") if part not in ("", ".", "..")]
    body["path"] = posixpath.join(LIBRARY_ROOT, *parts)
