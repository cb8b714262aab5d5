#!/usr/bin/python3
"""Hostile HTTP/2 against a Coordinator's mesh port, frame by frame with
python3-hyperframe/python3-hpack (the frame and header codecs of python3-h2;
no state machine, so the client can break every rule). Each scenario runs on
its own TLS connection (ALPN h2, a self-signed P-384 client certificate) and
prints one JSON line {"scenario", "ok", "detail"}; ok means the server did what
it must (refused, reset or closed, within bounds) and never crashed.

Usage: h2_hostile.py HOST:PORT SCENARIO...  (or "all"); exit 0 when every
scenario is ok, 1 otherwise."""
import datetime
import json
import os
import socket
import ssl
import struct
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hpack import Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ENHANCE_YOUR_CALM = 0xB


def client_cert(d):
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cp, kp = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    open(cp, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(kp, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cp, kp


class Conn:
    def __init__(self, addr, certs):
        host, port = addr.rsplit(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        ctx.load_cert_chain(*certs)
        raw = socket.create_connection((host, int(port)), timeout=10)
        self.s = ctx.wrap_socket(raw)
        assert self.s.selected_alpn_protocol() == "h2", self.s.selected_alpn_protocol()
        self.enc = Encoder()
        self.buf = b""
        self.closed = False
        self.goaway = None
        self.send(PREFACE + SettingsFrame(0).serialize())

    def send(self, b):
        self.s.sendall(b)

    def frame(self, f):
        self.send(f.serialize())

    def headers(self, sid, path="/rpc.Marble/Activate", method="POST", ct="application/grpc", extra=(),
                end_stream=False):
        h = [(":method", method), (":scheme", "https"), (":path", path), (":authority", "127.0.0.1"),
             ("content-type", ct), ("te", "trailers")] + list(extra)
        f = HeadersFrame(sid, self.enc.encode(h))
        f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        self.frame(f)

    def data(self, sid, b, end_stream=True):
        f = DataFrame(sid, b)
        if end_stream:
            f.flags.add("END_STREAM")
        self.frame(f)

    def read(self, timeout):
        """Frames until EOF or timeout; [] and closed=True at EOF."""
        out = []
        end = time.time() + timeout
        while time.time() < end:
            while len(self.buf) >= 9:
                f, n = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) < 9 + n:
                    break
                f.parse_body(memoryview(self.buf[9:9 + n]))
                self.buf = self.buf[9 + n:]
                if isinstance(f, GoAwayFrame):
                    self.goaway = f.error_code
                out.append(f)
            self.s.settimeout(max(0.05, end - time.time()))
            try:
                b = self.s.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                break
            except (ConnectionError, ssl.SSLError, OSError):
                self.closed = True
                break
            if not b:
                self.closed = True
                break
            self.buf += b
        return out

    def wait_closed(self, timeout):
        end = time.time() + timeout
        while not self.closed and time.time() < end:
            self.read(min(1.0, end - time.time()))
        return self.closed


def grpc_status(frames, sid):
    """grpc-status of stream sid (trailers or trailers-only), or None."""
    from hpack import Decoder
    st = None
    dec = Decoder()
    for f in frames:
        if isinstance(f, (HeadersFrame, ContinuationFrame)):
            hdrs = dec.decode(f.data)
            if f.stream_id == sid:
                for k, v in hdrs:
                    if k in (b"grpc-status", "grpc-status"):
                        st = int(v)
    return st


def rst_codes(frames):
    return [f.error_code for f in frames if isinstance(f, RstStreamFrame)]


def msg(payload):
    return struct.pack(">BI", 0, len(payload)) + payload


# ---- scenarios: each returns (ok, detail) ----

def s_oversize_prefix(addr, certs):
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, struct.pack(">BI", 0, 0x7FFFFFFF), end_stream=False)
    st = grpc_status(c.read(3), 1)
    return st == 8, "4-byte length 2^31-1 -> grpc-status %s (ResourceExhausted expected, nothing allocated)" % st


def s_compressed(addr, certs):
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, struct.pack(">BI", 1, 3) + b"abc")
    st = grpc_status(c.read(3), 1)
    return st == 12, "compressed flag without grpc-encoding -> grpc-status %s (Unimplemented expected)" % st


def s_bad_protobuf(addr, certs):
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, msg(b"\xff" * 16))
    st = grpc_status(c.read(3), 1)
    return st == 3, "invalid protobuf -> grpc-status %s (InvalidArgument expected)" % st


def s_truncated_message(addr, certs):
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, struct.pack(">BI", 0, 100) + b"abc")
    st = grpc_status(c.read(3), 1)
    return st == 3, "stream ended inside a message -> grpc-status %s (InvalidArgument expected)" % st


def s_two_messages(addr, certs):
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, msg(b"") + msg(b""))
    st = grpc_status(c.read(3), 1)
    return st == 3, "two messages on a unary call -> grpc-status %s (InvalidArgument expected)" % st


def s_unknown_method(addr, certs):
    c = Conn(addr, certs)
    c.headers(1, path="/rpc.Marble/Nope")
    c.data(1, msg(b""))
    st = grpc_status(c.read(3), 1)
    return st == 12, "unknown method -> grpc-status %s (Unimplemented expected)" % st


def s_huge_headers(addr, certs):
    c = Conn(addr, certs)
    fr = []
    try:
        c.headers(1, extra=[("x-pad-%d" % i, "v" * 1000) for i in range(40)], end_stream=True)
        fr = c.read(3)
    except (ConnectionError, ssl.SSLError, OSError):
        c.closed = True   # closed while we were still sending
    ok = bool(rst_codes(fr)) or c.closed
    return ok, "40 KB header list (limit 16 KiB) -> RST_STREAM %s closed=%s" % (rst_codes(fr), c.closed)


def s_too_many_streams(addr, certs):
    c = Conn(addr, certs)
    for i in range(40):
        c.headers(1 + 2 * i)   # never finished
    fr = c.read(3)
    refused = [f for f in fr if isinstance(f, RstStreamFrame) and f.error_code == 7]
    ok = len(refused) >= 40 - 16 or c.goaway is not None
    return ok, "40 open streams (limit 16): %d REFUSED_STREAM, goaway=%s" % (len(refused), c.goaway)


def s_rapid_reset(addr, certs):
    c = Conn(addr, certs)
    sent = 0
    try:
        for i in range(2000):
            sid = 1 + 2 * i
            c.headers(sid)
            c.frame(RstStreamFrame(sid, 8))   # CANCEL
            sent += 1
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    c.wait_closed(8)
    ok = c.goaway == ENHANCE_YOUR_CALM or (c.closed and sent < 2000)
    return ok, "HEADERS+RST_STREAM x %d -> GOAWAY %s, closed=%s" % (sent, c.goaway, c.closed)


def flood(addr, certs, mk, what):
    c = Conn(addr, certs)
    c.s.settimeout(2)
    sent = 0
    t0 = time.time()
    try:
        while sent < 200000 and time.time() - t0 < 15:
            c.send(b"".join(mk().serialize() for _ in range(100)))
            sent += 100
    except (socket.timeout, ConnectionError, ssl.SSLError, OSError):
        pass
    closed = c.wait_closed(12)
    return closed, "%s x %d without reading the ACKs -> connection closed=%s (goaway %s) after %.1f s" % (
        what, sent, closed, c.goaway, time.time() - t0)


def s_settings_flood(addr, certs):
    return flood(addr, certs, lambda: SettingsFrame(0), "SETTINGS")


def s_ping_flood(addr, certs):
    return flood(addr, certs, lambda: PingFrame(0, b"12345678"), "PING")


def s_half_open(addr, certs):
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, struct.pack(">BI", 0, 50) + b"x", end_stream=False)
    t0 = time.time()
    closed = c.wait_closed(15)
    return closed, "stream left half-open: connection closed=%s after %.1f s" % (closed, time.time() - t0)


def s_slow_drip(addr, certs):
    """Bytes keep coming (so the idle timeout never fires), the message never
    completes: the progress deadline (3 x --http-timeout) closes it."""
    c = Conn(addr, certs)
    c.headers(1)
    c.data(1, struct.pack(">BI", 0, 1000), end_stream=False)
    t0 = time.time()
    while not c.closed and time.time() - t0 < 20:
        try:
            c.data(1, b"x", end_stream=False)
        except (ConnectionError, ssl.SSLError, OSError):
            c.closed = True
            break
        c.read(0.5)
    return c.closed, "one byte every 0.5 s into an unfinished message -> closed=%s after %.1f s" % (
        c.closed, time.time() - t0)


def s_garbage_preface(addr, certs):
    c = Conn.__new__(Conn)
    host, port = addr.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    ctx.load_cert_chain(*certs)
    c.s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
    c.buf, c.closed, c.goaway = b"", False, None
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
    closed = c.wait_closed(5)
    return closed, "HTTP/1.1 bytes after ALPN h2 -> closed=%s goaway=%s" % (closed, c.goaway)


SCENARIOS = {n[2:]: f for n, f in sorted(globals().items()) if n.startswith("s_")}


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    addr = sys.argv[1]
    names = list(SCENARIOS) if sys.argv[2:] == ["all"] else sys.argv[2:]
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        certs = client_cert(d)
        for n in names:
            try:
                ok, detail = SCENARIOS[n](addr, certs)
            except Exception as e:  # a scenario that cannot even run is a failure
                ok, detail = False, "%s: %s" % (type(e).__name__, e)
            bad += not ok
            print(json.dumps({"scenario": n, "ok": bool(ok), "detail": detail}), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
