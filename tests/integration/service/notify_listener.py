#!/usr/bin/env python3
"""The systemd side of sd_notify(3) for tests: an AF_UNIX datagram socket at
PATH (what systemd passes as NOTIFY_SOCKET). Every datagram is appended to
OUT as one JSON line {"t": monotonic seconds, "fields": {KEY: VALUE}} and
flushed at once. Runs until SIGTERM or MAX_SECONDS. Written for the tests;
it does not use libsystemd, so it checks the wire format, not our use of it."""
import json
import os
import signal
import socket
import sys
import time

path, out, max_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(0.2)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
end = time.monotonic() + max_s
with open(out, "a", buffering=1) as f:
    open(out + ".up", "w").close()
    while time.monotonic() < end:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        fields = {}
        bad = None
        for line in data.decode("utf-8", "replace").split("\n"):
            if line == "":
                continue
            if "=" not in line:
                bad = line
                continue
            k, v = line.split("=", 1)
            fields[k] = v
        rec = {"t": time.monotonic(), "fields": fields}
        if bad is not None:
            rec["malformed"] = bad
        f.write(json.dumps(rec) + "\n")
