#!/usr/bin/env python3
"""HTTP request smuggling corpus (issue 12 §2) against one Coordinator listener.

A raw socket client (python's ssl/socket, not Cairn's own client) sends each
request of the corpus in one write, reads until the server closes the
connection (or 5 s pass) and parses the responses. Every smuggling case must
get exactly one response, a 400, and then the connection closed, so the bytes
after the first request are never answered. Control cases (valid framing,
including pipelining) must be answered as usual.

usage: smuggle.py --addr HOST:PORT [--tls] [--cert PEM --key PEM] --name LABEL
Prints one line per case; exit status 1 when a case fails.
"""
import argparse
import socket
import ssl
import sys
import time

P = "/api/v2/status"
SMUG = "GET /api/v2/status HTTP/1.1\r\nHost: x\r\n\r\n"       # the smuggled second request
POST = "POST " + P + " HTTP/1.1\r\nHost: x\r\n"

# (name, raw request, method of the first request)
SMUGGLING = [
    ("duplicate Content-Length, different", POST + "Content-Length: 4\r\nContent-Length: 44\r\n\r\nabcd" + SMUG),
    ("duplicate Content-Length, same value", POST + "Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd" + SMUG),
    ("Content-Length list", POST + "Content-Length: 4, 4\r\n\r\nabcd" + SMUG),
    ("Content-Length with sign", POST + "Content-Length: +4\r\n\r\nabcd" + SMUG),
    ("Content-Length then Transfer-Encoding", POST + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("Transfer-Encoding then Content-Length", POST + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUG),
    ("'Transfer-Encoding : chunked' (space before colon)", POST + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("'Transfer-Encoding : chunked' with Content-Length", POST + "Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\nabcd" + SMUG),
    ("'Content-Length : 4' (space before colon)", POST + "Content-Length : 4\r\n\r\nabcd" + SMUG),
    ("Transfer-Encoding: xchunked", POST + "Transfer-Encoding: xchunked\r\n\r\n" + SMUG),
    ("Transfer-Encoding:<TAB>chunked", POST + "Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("Transfer-Encoding<TAB>: chunked", POST + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("Transfer-Encoding: chunked, identity", POST + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUG),
    ("Transfer-Encoding: identity, chunked", POST + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("two Transfer-Encoding headers", POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUG),
    ("obs-fold in Transfer-Encoding", POST + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("obs-fold in Content-Length", POST + "Content-Length:\r\n 4\r\n\r\nabcd" + SMUG),
    ("Transfer-Encoding in HTTP/1.0", "POST " + P + " HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUG),
    ("HEAD with a body", "HEAD " + P + " HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUG) + SMUG),
    ("absolute-URI request target", "GET http://evil.example" + P + " HTTP/1.1\r\nHost: x\r\n\r\n" + SMUG),
    ("absolute-URI, Proxy-Connection: keep-alive", "GET http://evil.example" + P + " HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n" + SMUG),
    ("asterisk-form request target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + SMUG),
    ("HTTP/0.9 request", "GET " + P + "\r\n\r\n" + SMUG),
    ("HTTP/1.1 without Host", "GET " + P + " HTTP/1.1\r\n\r\n" + SMUG),
    ("two Host headers", "GET " + P + " HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + SMUG),
]

CLOSE = "GET " + P + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
# (name, raw request, expected number of responses, status that must not appear)
CONTROLS = [
    ("pipelined GETs", "GET " + P + " HTTP/1.1\r\nHost: x\r\n\r\n" + CLOSE, 2),
    ("POST with Content-Length, then GET", POST + "Content-Length: 4\r\n\r\nabcd" + CLOSE, 2),
    ("POST chunked, then GET", POST + "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n" + CLOSE, 2),
    ("POST 'Transfer-Encoding: Chunked' (case-insensitive)", POST + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n" + CLOSE, 2),
    ("HEAD, then GET (no body after a HEAD response)", "HEAD " + P + " HTTP/1.1\r\nHost: x\r\n\r\n" + CLOSE, 2),
    ("GET with Content-Length: 0, HTTP/1.0", "GET " + P + " HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 1),
]


def connect(addr, tls, cert, key):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(cert, key)
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


def exchange(addr, tls, cert, key, raw):
    """Sends raw in one write; returns (bytes received, how the read ended)."""
    s = connect(addr, tls, cert, key)
    s.sendall(raw.encode("latin-1"))
    data = b""
    end = "timeout"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError) as e:
            end = "reset (%s)" % e.__class__.__name__
            break
        if not chunk:
            end = "EOF"
            break
        data += chunk
    s.close()
    return data, end


def parse_responses(data, first_is_head):
    """Splits a response stream; returns the list of status codes (None for junk)."""
    codes = []
    while data:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0 or not data.startswith(b"HTTP/1."):
            codes.append(None)
            break
        head = data[:head_end].decode("latin-1")
        lines = head.split("\r\n")
        try:
            codes.append(int(lines[0].split(" ")[1]))
        except (IndexError, ValueError):
            codes.append(None)
            break
        length = None
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if length is None:      # HTTP/1.0 style: the body runs to the close
            length = len(data)
        if first_is_head and len(codes) == 1:
            length = 0
        data = data[head_end + 4 + length:]
    return codes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--name", required=True)
    a = ap.parse_args()
    fails = 0
    for name, raw in SMUGGLING:
        data, end = exchange(a.addr, a.tls, a.cert, a.key, raw)
        codes = parse_responses(data, raw.startswith("HEAD "))
        ok = codes == [400] and end == "EOF"
        fails += not ok
        print("%s - %s: %s: responses %s, then %s" % ("ok  " if ok else "FAIL", a.name, name, codes, end))
    for name, raw, n in CONTROLS:
        data, end = exchange(a.addr, a.tls, a.cert, a.key, raw)
        codes = parse_responses(data, raw.startswith("HEAD "))
        ok = len(codes) == n and all(c is not None and c != 400 for c in codes) and end == "EOF"
        fails += not ok
        print("%s - %s: control %s: responses %s, then %s" % ("ok  " if ok else "FAIL", a.name, name, codes, end))
    sys.stdout.flush()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
