#!/usr/bin/env python3
"""Connection flood and a legitimate client (issue 12 §3). 127.0.0.x only.

  flood.py flood --target H:P [--target H:P ...] --per-target N --sources SPEC
                 --duration S [--rate R] [--partial-every K]
      keeps N idle TCP connections open to each target (the issue's attacker:
      plain connects, no TLS, no credentials); every K-th connection sends 3
      bytes of a TLS record header and stops (half-open). A connection the
      server closes is reopened, at most R reopenings per second overall (the
      first N per target are opened at once). SPEC: 127.0.0.2 or
      127.0.0.3-127.0.0.200; source addresses are used round-robin via bind().
      Prints one summary line at the end.

  flood.py status --addr H:P --duration S --interval I --out FILE
      a legitimate client: every I seconds a new TLS connection and
      GET /api/v2/status (what `cairn status` does); one line per request
      "ok|fail <seconds> <detail>" in FILE.

  flood.py load --addr H:P --threads N --duration S
      TLS clients hammering GET /api/v2/status, half on keep-alive
      connections, half on a new connection per request; errors ignored
      (used to stop the server with requests in flight).

  flood.py report FILE...
      success rate and latency percentiles of result lines.
"""
import argparse
import errno
import os
import selectors
import socket
import ssl
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24   # linux: pick the port at connect(), per 4-tuple


def parse_sources(spec):
    if "-" not in spec:
        return [spec]
    a, b = spec.split("-")
    pa, pb = a.split("."), b.split(".")
    return ["%s.%s.%s.%d" % (pa[0], pa[1], pa[2], i) for i in range(int(pa[3]), int(pb[3]) + 1)]


def flood(a):
    targets = []
    for t in a.target:
        h, p = t.rsplit(":", 1)
        targets.append((h, int(p)))
    sources = parse_sources(a.sources)
    sel = selectors.DefaultSelector()
    stats = {"opened": 0, "closed_by_server": 0, "connect_errors": 0}
    pending = []           # (target index, slot) waiting to be (re)opened
    src_i = [0]

    def open_one(ti, slot):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        except OSError:
            pass
        src = sources[src_i[0] % len(sources)]
        src_i[0] += 1
        try:
            s.bind((src, 0))
            rc = s.connect_ex(targets[ti])
        except OSError:
            rc = -1
        if rc not in (0, errno.EINPROGRESS):
            stats["connect_errors"] += 1
            s.close()
            pending.append((ti, slot))
            return
        stats["opened"] += 1
        half = a.partial_every > 0 and slot % a.partial_every == 0
        sel.register(s, selectors.EVENT_WRITE if half else selectors.EVENT_READ, (ti, slot, half))

    for ti in range(len(targets)):
        for slot in range(a.per_target):
            open_one(ti, slot)
    end = time.monotonic() + a.duration
    tokens, last = 0.0, time.monotonic()
    while time.monotonic() < end:
        for key, ev in sel.select(timeout=0.05):
            s = key.fileobj
            ti, slot, half = key.data
            if ev & selectors.EVENT_WRITE:
                # connected: a half-open client sends the start of a record header, then nothing
                try:
                    s.send(b"\x16\x03\x01")
                except OSError:
                    pass
                sel.modify(s, selectors.EVENT_READ, (ti, slot, False))
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                stats["closed_by_server"] += 1
                sel.unregister(s)
                s.close()
                pending.append((ti, slot))
        now = time.monotonic()
        tokens = min(a.rate, tokens + (now - last) * a.rate)
        last = now
        while pending and tokens >= 1:
            tokens -= 1
            open_one(*pending.pop(0))
    n_open = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print("flood %s from %d source address(es): %d connections opened, %d closed by the server, "
          "%d connect errors, %d open at the end" % (",".join(a.target), len(sources), stats["opened"],
                                                     stats["closed_by_server"], stats["connect_errors"], n_open))
    return 0


def status(a):
    h, p = a.addr.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = b"GET /api/v2/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    end = time.monotonic() + a.duration
    with open(a.out, "a") as out:
        while time.monotonic() < end:
            t0 = time.monotonic()
            ok, detail = False, ""
            try:
                with socket.create_connection((h, int(p)), timeout=5) as raw:
                    raw.settimeout(5)
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        s.sendall(req)
                        data = b""
                        while True:
                            chunk = s.recv(65536)
                            if not chunk:
                                break
                            data += chunk
                ok = data.startswith(b"HTTP/1.1 200 ") and b'"status":"success"' in data
                detail = data[:12].decode("latin-1", "replace").replace(" ", "_") or "empty"
            except (OSError, ssl.SSLError) as e:
                detail = e.__class__.__name__
            dt = time.monotonic() - t0
            out.write("%s %.6f status:%s\n" % ("ok" if ok else "fail", dt, detail))
            out.flush()
            time.sleep(max(0.0, a.interval - dt))
    return 0


def load(a):
    import threading
    h, p = a.addr.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    end = time.monotonic() + a.duration
    done = [0]

    def worker(keepalive):
        req = b"GET /api/v2/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
        while time.monotonic() < end:
            try:
                with socket.create_connection((h, int(p)), timeout=2) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        for _ in range(1000 if keepalive else 1):
                            s.sendall(req)
                            s.recv(65536)
                            done[0] += 1
                            if time.monotonic() >= end:
                                break
            except (OSError, ssl.SSLError):
                time.sleep(0.01)

    ts = [threading.Thread(target=worker, args=(i % 2 == 0,), daemon=True) for i in range(a.threads)]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        if a.progress:
            with open(a.progress + ".tmp", "w") as f:
                f.write("%d\n" % done[0])
            os.replace(a.progress + ".tmp", a.progress)
        time.sleep(0.05)
    print("load: %d responses" % done[0])
    return 0


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def report(a):
    lines = []
    for f in a.files:
        with open(f) as fh:
            lines += [ln.split() for ln in fh if ln.strip()]
    n = len(lines)
    ok = [float(ln[1]) for ln in lines if ln[0] == "ok"]
    lat = [float(ln[1]) for ln in lines]
    rate = 100.0 * len(ok) / n if n else 0.0
    fails = {}
    for ln in lines:
        if ln[0] != "ok":
            fails[ln[2] if len(ln) > 2 else "?"] = fails.get(ln[2] if len(ln) > 2 else "?", 0) + 1
    print("%s: %d requests, %d ok (%.1f %%), latency p50 %.1f ms, p99 %.1f ms, max %.1f ms%s"
          % (a.label, n, len(ok), rate, 1e3 * pct(lat, 0.5), 1e3 * pct(lat, 0.99), 1e3 * max(lat or [0]),
             "; failures: " + ", ".join("%s x%d" % kv for kv in sorted(fails.items())) if fails else ""))
    return 0 if n > 0 and rate >= a.min_percent else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--target", action="append", required=True)
    f.add_argument("--per-target", type=int, required=True)
    f.add_argument("--sources", required=True)
    f.add_argument("--duration", type=float, required=True)
    f.add_argument("--rate", type=float, default=1000)
    f.add_argument("--partial-every", type=int, default=4)
    s = sub.add_parser("status")
    s.add_argument("--addr", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--interval", type=float, default=0.1)
    s.add_argument("--out", required=True)
    ld = sub.add_parser("load")
    ld.add_argument("--addr", required=True)
    ld.add_argument("--threads", type=int, default=16)
    ld.add_argument("--duration", type=float, required=True)
    ld.add_argument("--progress", help="file rewritten with the response count while running")
    r = sub.add_parser("report")
    r.add_argument("--label", default="legitimate requests")
    r.add_argument("--min-percent", type=float, default=95.0)
    r.add_argument("files", nargs="+")
    a = ap.parse_args()
    return {"flood": flood, "status": status, "load": load, "report": report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
