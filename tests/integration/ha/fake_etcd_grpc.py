#!/usr/bin/env python3
"""A hostile stand-in for etcd's gRPC side (h2c, python3-h2: an HTTP/2
implementation we did not write), for test_etcd_wire_hostile.sh.

  fake_etcd_grpc.py PORTFILE MODE [MODE...]

Listens on 127.0.0.1 (a free port, written to PORTFILE) and answers the
n-th gRPC request with the n-th MODE:
  ok          a well-formed RangeResponse / TxnResponse holding the key /h/a
  badlen      the 5-byte prefix announces 100 bytes, 10 follow
  compressed  the compressed flag set (no grpc-encoding was negotiated)
  huge        the prefix announces 2^31-1 bytes
  notrailers  a message, then the stream ends without grpc-status
  unavail     trailers only: grpc-status 14 with a percent-encoded message
              holding control bytes
  http503     HTTP 503 without any gRPC status
  garbage     a well-framed message that is not protobuf
  nulkey      a RangeResponse whose key holds a NUL byte
"""
import socket
import struct
import sys
import threading

import h2.config
import h2.connection
import h2.events

PORTFILE, MODES = sys.argv[1], list(sys.argv[2:])
LOCK = threading.Lock()


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def fld(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def fint(num, v):
    return varint(num << 3) + varint(v)


def range_resp(key):
    kv = fld(1, key) + fint(2, 5) + fint(3, 5) + fint(4, 1) + fld(5, b"v")
    return fld(1, fint(3, 9)) + fld(2, kv)


def body_for(mode, path):
    msg = range_resp(b"/h/a" if mode != "nulkey" else b"/h/\x00a")
    if path.endswith("/Txn"):
        msg = fld(1, fint(3, 9)) + fint(2, 1) + fld(3, fld(1, msg))
    frame = b"\x00" + struct.pack(">I", len(msg)) + msg
    if mode == "badlen":
        return b"\x00" + struct.pack(">I", 100) + b"x" * 10
    if mode == "compressed":
        return b"\x01" + frame[1:]
    if mode == "huge":
        return b"\x00" + struct.pack(">I", 0x7FFFFFFF) + b"x" * 16
    if mode == "garbage":
        return b"\x00" + struct.pack(">I", 3) + b"\xff\xff\xff"
    return frame


def answer(conn, sid, path):
    with LOCK:
        mode = MODES.pop(0) if MODES else "ok"
    if mode == "http503":
        conn.send_headers(sid, [(":status", "503"), ("content-type", "text/plain")])
        conn.send_data(sid, b"busy", end_stream=True)
        return
    if mode == "unavail":
        conn.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "14"),
                                ("grpc-message", "no leader%0A%07%7F here")], end_stream=True)
        return
    conn.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
    conn.send_data(sid, body_for(mode, path), end_stream=(mode == "notrailers"))
    if mode != "notrailers":
        conn.send_headers(sid, [("grpc-status", "0")], end_stream=True)


def serve(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    paths = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    paths[ev.stream_id] = dict(ev.headers).get(":path", "")
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    answer(conn, ev.stream_id, paths.pop(ev.stream_id, ""))
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    import os
    os.rename(PORTFILE + ".tmp", PORTFILE)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


main()
