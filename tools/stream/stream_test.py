#!/usr/bin/env python3
"""The live prediction stream (GET /api/v1/stream) against a running `timbre serve`.

Run by scripts/test-stream (which starts the server with 2 stream slots, a 3 s idle timeout and
a 2 s send timeout). Streams a WAV it writes itself and compares with `timbre predict` on the
same file; then malformed frames, an oversize message, a client that stops reading, an abrupt
disconnect, the idle timeout, auth failures and the stream limit, checking after each that the
server still answers. The happy paths use the `websockets` client; malformed frames go over a
raw socket, since no client library sends them.
"""
import argparse
import base64
import glob
import json
import math
import os
import random
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

args = None
failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def ws_url():
    return args.url.replace("http://", "ws://") + "/api/v1/stream"


def open_ws(**kw):
    # No queue limit: the client reads only after sending everything, and a bounded queue would
    # stop it reading (the server would then rightly drop it as a client that stopped reading).
    return connect(ws_url(), open_timeout=20, max_size=None, max_queue=None, proxy=None, **kw)


def healthy(what):
    try:
        with urllib.request.urlopen(args.url + "/healthz", timeout=10) as answer:
            check(answer.status == 200, f"the server still answers after {what}")
    except Exception as error:  # noqa: BLE001 - any failure is the finding
        check(False, f"the server still answers after {what} ({error})")


def write_wav(path, seconds, rate=44100):
    """Stereo 16-bit: notes over noise, loudest in the first second (see docs/api.md: the
    stream's top_db floor is the loudest frame so far, so the first chunk must hold the peak
    for the chunks to equal predict's exactly)."""
    rng = random.Random(7)
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        pitch = 220 * 2 ** ((int(t * 2) % 12) / 12)
        level = 0.8 if t < 1 else 0.3
        left = level * math.sin(2 * math.pi * pitch * t) + 0.05 * rng.uniform(-1, 1)
        right = level * math.sin(2 * math.pi * 1.5 * pitch * t) + 0.05 * rng.uniform(-1, 1)
        frames += struct.pack("<hh", int(left * 32767), int(right * 32767))
    with wave.open(path, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


def stream(pcm, start, piece, subprotocols=None):
    """Streams `pcm` after `start`; returns (ready, chunk messages, track messages, close code)."""
    with open_ws(subprotocols=subprotocols) as ws:
        ws.send(json.dumps(start))
        ready = json.loads(ws.recv(timeout=30))
        chunks, tracks = [], []
        for at in range(0, len(pcm), piece):
            ws.send(pcm[at:at + piece])
        ws.send(json.dumps({"type": "end"}))
        try:
            while True:
                message = json.loads(ws.recv(timeout=60))
                (chunks if message["type"] == "chunk" else tracks).append(message)
        except ConnectionClosed:
            pass
        return ready, chunks, tracks, ws.close_code, ws.subprotocol


def test_stream_matches_predict():
    path = os.path.join(args.work, "stream-test.wav")
    write_wav(path, 20)
    with wave.open(path, "rb") as source:
        pcm = source.readframes(source.getnframes())
        count = source.getnframes()
    predicted = json.loads(subprocess.run([args.timbre, "predict", "--json", path], check=True,
                                          capture_output=True, text=True).stdout)
    expected = predicted["all_probabilities"]

    ready, chunks, tracks, code, _ = stream(pcm, {"api_key": args.key, "sample_rate": 44100, "channels": 2,
                                                  "format": "s16le"}, piece=4 * 4410)
    check(ready["type"] == "ready" and ready["hop_frames"] == 64, "the stream is ready at the predictor's hop (64 frames)")
    check(code == 1000, f"the stream ends with close 1000 (got {code})")
    # predict's grid on this file: 22050 Hz, frames = 1 + samples // 512, chunks every 64 frames.
    samples = math.ceil(count / 2)
    frames = 1 + samples // 512
    want = 1 + (frames - 128) // 64
    check(len(chunks) == want, f"{want} chunks, as predict cuts the file (got {len(chunks)})")
    check(all(abs(c["start_seconds"] - i * 64 * 512 / 22050) < 1e-9 for i, c in enumerate(chunks)),
          "chunk i starts at i * 64 * 512 / 22050 s")
    check(tracks and tracks[-1]["final"] and tracks[-1]["chunks"] == len(chunks), "a final track estimate over every chunk")
    check(len(tracks) >= 2 and not tracks[0]["final"], "running track estimates came before the end")
    final = {p["label"]: p["probability"] for p in tracks[-1]["predictions"]}
    worst = max(abs(final[label] - p) for label, p in expected.items())
    check(set(final) == set(expected) and worst < 1e-4, f"the final track equals `timbre predict` (worst difference {worst:.2e})")
    mean = {label: sum(next(p["probability"] for p in c["predictions"] if p["label"] == label) for c in chunks) / len(chunks)
            for label in final}
    check(max(abs(mean[label] - final[label]) for label in final) < 1e-5, "the track is the mean of the chunks")

    # The same audio as f32le mono at 22050 Hz, the key in Sec-WebSocket-Protocol, hop 1.5 s.
    mono = bytearray()
    for i in range(0, count - 1, 2):  # 44.1 kHz -> every other frame (a crude, valid signal)
        left, right = struct.unpack_from("<hh", pcm, 4 * i)
        mono += struct.pack("<f", (left + right) / 65536)
    ready, chunks, tracks, code, protocol = stream(bytes(mono), {"sample_rate": 22050, "channels": 1, "format": "f32le",
                                                                 "hop_seconds": 3.0},
                                                   piece=4097, subprotocols=["timbre", args.key])
    check(protocol == "timbre", "the server picks the timbre subprotocol")
    check(ready["hop_frames"] == 129 and code == 1000 and len(chunks) == 1 + (frames - 128) // 129 and tracks[-1]["final"],
          f"f32le with the key as a subprotocol and a 3 s hop streams ({len(chunks)} chunks, close {code})")
    healthy("two streams")

    # The same file sent whole as "encoded" (no rate, no channels): answered after the end, from
    # predict's own decode; then a compressed file of the demo library; then bytes that are no audio.
    with open(path, "rb") as f:
        wav = f.read()
    ready, chunks, tracks, code, _ = stream(wav, {"api_key": args.key, "format": "encoded"}, piece=65536)
    final = {p["label"]: p["probability"] for p in tracks[-1]["predictions"]} if tracks else {}
    worst = max((abs(final.get(label, 2) - p) for label, p in expected.items()), default=2)
    check(code == 1000 and len(chunks) == want and tracks and tracks[-1]["final"] and worst < 1e-4,
          f"an encoded WAV: {len(chunks)} chunks, close {code}, final track within {worst:.2e} of `timbre predict`")
    compressed = sorted(glob.glob(os.path.join(args.work, "**", "*.mp3"), recursive=True)
                        + glob.glob(os.path.join(args.work, "**", "*.flac"), recursive=True))
    if compressed:
        other = json.loads(subprocess.run([args.timbre, "predict", "--json", compressed[0]], check=True,
                                          capture_output=True, text=True).stdout)["all_probabilities"]
        with open(compressed[0], "rb") as f:
            ready, chunks, tracks, code, _ = stream(f.read(), {"api_key": args.key, "format": "encoded"}, piece=50000)
        final = {p["label"]: p["probability"] for p in tracks[-1]["predictions"]} if tracks else {}
        worst = max((abs(final.get(label, 2) - p) for label, p in other.items()), default=2)
        check(code == 1000 and chunks and worst < 1e-4,
              f"an encoded {os.path.basename(compressed[0])}: {len(chunks)} chunks, final track within {worst:.2e} of `timbre predict`")
    else:
        check(False, f"a compressed demo file under {args.work} to stream encoded")
    ready, chunks, tracks, code, _ = stream(b"not audio at all" * 100, {"api_key": args.key, "format": "encoded"}, piece=1000)
    check(code == 1007 and not chunks, f"bytes that do not decode: close 1007 (got {code})")
    healthy("encoded streams")


class Raw:
    """A WebSocket over a plain socket, to send what a client library never would."""

    def __init__(self, rcvbuf=None, protocol=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        host, port = args.url.replace("http://", "").split(":")
        self.sock.settimeout(15)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        extra = f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else ""
        self.sock.sendall((f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            got = self.sock.recv(4096)
            if not got:
                break
            head += got
        self.status = int(head.split(b" ")[1]) if head else 0
        self.buffer = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""

    @staticmethod
    def frame(opcode, payload, fin=True, masked=True, declared=None):
        length = len(payload) if declared is None else declared
        head = bytes([(0x80 if fin else 0) | opcode])
        bit = 0x80 if masked else 0
        if length < 126:
            head += bytes([bit | length])
        elif length < 65536:
            head += bytes([bit | 126]) + struct.pack(">H", length)
        else:
            head += bytes([bit | 127]) + struct.pack(">Q", length)
        if not masked:
            return head + payload
        mask = os.urandom(4)
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def send(self, opcode, payload, **kw):
        self.sock.sendall(self.frame(opcode, payload, **kw))

    def close_code(self, timeout=15):
        """Reads the server's frames until its close; its code (None when the socket just ends)."""
        self.sock.settimeout(timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            while len(self.buffer) >= 2:
                length = self.buffer[1] & 0x7F
                at = 2
                if length == 126:
                    length, at = struct.unpack(">H", self.buffer[2:4])[0], 4
                elif length == 127:
                    length, at = struct.unpack(">Q", self.buffer[2:10])[0], 10
                if len(self.buffer) < at + length:
                    break
                opcode, payload = self.buffer[0] & 0x0F, self.buffer[at:at + length]
                self.buffer = self.buffer[at + length:]
                if opcode == 0x8:
                    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
            try:
                got = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return None
            if not got:
                return None
            self.buffer += got
        return None

    def start(self):
        self.send(0x1, json.dumps({"api_key": args.key, "sample_rate": 22050, "channels": 1, "format": "f32le"}).encode())


def test_malformed_frames():
    cases = [
        ("an unmasked frame", lambda r: r.send(0x1, b"{}", masked=False), 1002),
        ("an unknown opcode", lambda r: r.send(0x3, b"x"), 1002),
        ("reserved bits", lambda r: r.sock.sendall(bytes([0xC1]) + Raw.frame(0x1, b"x")[1:]), 1002),
        ("invalid UTF-8 text", lambda r: r.send(0x1, b"\xc3\x28"), 1007),
        ("a continuation with nothing to continue", lambda r: r.send(0x0, b"x"), 1002),
        ("a 126-byte ping", lambda r: r.send(0x9, b"p" * 126), 1002),
        ("a frame declaring 5 MB", lambda r: r.send(0x2, b"", declared=5 << 20), 1009),
        ("audio before the start message", lambda r: r.send(0x2, b"\0\0\0\0"), 1003),
        ("a start message that is not JSON", lambda r: r.send(0x1, b"hello"), 1003),
        ("no key", lambda r: r.send(0x1, b'{"sample_rate":22050,"channels":1,"format":"f32le"}'), 1008),
        ("an unknown key", lambda r: r.send(0x1, b'{"api_key":"tmb_00","sample_rate":22050,"channels":1,"format":"f32le"}'), 1008),
        ("an oversize message in fragments",
         lambda r: (r.start(), [r.send(0x2 if i == 0 else 0x0, b"\0" * (1 << 20), fin=False) for i in range(5)]), 1009),
        ("text other than end", lambda r: (r.start(), r.send(0x1, b'{"type":"pause"}')), 1003),
    ]
    for what, act, code in cases:
        raw = Raw()
        try:
            act(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = raw.close_code()
        check(got == code, f"{what}: close {code} (got {got})")
        raw.sock.close()
    bad = Raw(protocol="timbre, tmb_0123")
    bad.send(0x1, b'{"sample_rate":22050,"channels":1,"format":"f32le"}')
    check(bad.close_code() == 1008, "an unknown key in Sec-WebSocket-Protocol: close 1008")
    # A ping is answered with its payload; a client's close is echoed.
    raw = Raw()
    raw.start()
    raw.send(0x9, b"are you there")
    raw.sock.settimeout(15)
    seen = b""
    deadline = time.time() + 15
    while b"are you there" not in seen and time.time() < deadline:
        seen += raw.sock.recv(65536)
    check(b"\x8a\x0dare you there" in seen, "a ping is answered by a pong with its payload")
    raw.buffer = b""
    raw.send(0x8, struct.pack(">H", 1000) + b"bye")
    check(raw.close_code() == 1000, "a client's close 1000 is echoed")
    raw.sock.close()
    try:
        urllib.request.urlopen(args.url + "/api/v1/stream", timeout=10)
        check(False, "a plain GET is refused")
    except urllib.error.HTTPError as error:
        body = json.loads(error.read())
        check(error.code == 426 and body["error"]["code"], f"a plain GET is answered 426 with a JSON error (got {error.code})")
    healthy("malformed frames")


def test_slow_and_vanishing_clients():
    # A client that sends audio and never reads: the server's sends time out (2 s) and it drops
    # the connection, without holding up anyone else.
    raw = Raw(rcvbuf=4096)
    raw.start()
    audio = Raw.frame(0x2, struct.pack("<4410f", *[0.3 * math.sin(i / 5) for i in range(4410)]))
    raw.sock.settimeout(1)
    dropped = stalled = False
    pending = audio
    deadline = time.time() + 180
    while time.time() < deadline and not dropped:
        try:
            pending = pending[raw.sock.send(pending):] or audio
        except socket.timeout:
            if not stalled:
                stalled = True
                healthy("a client stalled (while its stream is stuck)")
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
    check(dropped, "a client that stops reading is dropped")
    raw.sock.close()
    healthy("a client that stopped reading")

    # Abrupt disconnects mid-stream: a reset, and a plain close without a close frame.
    for how in ("reset", "close"):
        raw = Raw()
        raw.start()
        raw.send(0x2, b"\0" * 40000)
        if how == "reset":
            raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.sock.close()
    healthy("abrupt disconnects")

    # The idle timeout: a stream that goes silent is closed 1001.
    raw = Raw()
    raw.start()
    began = time.time()
    got = raw.close_code(timeout=args.idle_timeout + 10)
    check(got == 1001 and time.time() - began < args.idle_timeout + 5, f"a silent stream is closed 1001 (got {got})")
    raw.sock.close()


def test_stream_limit():
    # Every slot must be free again (the dropped, reset and timed-out streams released theirs).
    deadline = time.time() + 15
    while True:
        opened = []
        try:
            for _ in range(args.max_streams):
                ws = open_ws()
                ws.send(json.dumps({"api_key": args.key, "sample_rate": 22050, "channels": 1, "format": "f32le"}))
                json.loads(ws.recv(timeout=10))
                opened.append(ws)
            break
        except InvalidStatus:
            for ws in opened:
                ws.close()
            if time.time() > deadline:
                check(False, "every stream slot is free again after the failures")
                return
            time.sleep(0.5)
    check(True, f"{args.max_streams} streams open at once (every slot freed by the earlier failures)")
    try:
        open_ws().close()
        check(False, "one stream over --max-streams is refused")
    except InvalidStatus as error:
        body = json.loads(error.response.body)
        check(error.response.status_code == 503 and "max-streams" in body["error"]["message"],
              f"one stream over --max-streams is refused with 503 and a JSON error ({error.response.status_code})")
    opened.pop().close()
    time.sleep(0.5)
    again = open_ws()
    check(True, "a slot given back is taken again")
    again.close()
    for ws in opened:
        ws.close()
    healthy("the stream limit")


def wait_for_active_model():
    request = urllib.request.Request(args.url + "/api/v1/models", headers={"Authorization": f"Bearer {args.key}"})
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                body = json.loads(answer.read())
                models = body.get("models", body) if isinstance(body, dict) else body
                if any(m.get("state") == "active" for m in models):
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit("stream_test: no active model after 180 s")


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--timbre", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--max-streams", type=int, default=2)
    parser.add_argument("--idle-timeout", type=float, default=3)
    args = parser.parse_args()
    # The server is local: no proxy from the environment.
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
    wait_for_active_model()
    test_stream_matches_predict()
    test_malformed_frames()
    test_slow_and_vanishing_clients()
    test_stream_limit()
    print(f"stream_test: {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
