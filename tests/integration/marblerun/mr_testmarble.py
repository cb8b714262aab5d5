#!/usr/bin/env python3
"""The behaviour of MarbleRun's test marble (cmd/marble-test), after activation.

MarbleRun's integration suite starts one binary, marble-test, whose premain
activates at the Coordinator and whose main then does what the manifest's Argv
says. The activation is done by the harness (lib.sh: mr_activate); this script
does the rest, with only the Python standard library (ssl, http), from the
activation result in DIR:
  DIR/env/<NAME>   decoded environment (MARBLE_PREDEFINED_* and the manifest's Env)
  DIR/fs/<path>    the manifest's Files, where premain would have written them

Modes (argv[1] of the manifest, as in marble-test; "client" when Argv is empty):
  serve                 HTTPS on EDG_TEST_ADDR, client certificates required and
                        verified against the Marble Root (MARBLE_PREDEFINED_ROOT_CA)
  serve-no-client-auth  HTTPS on EDG_TEST_ADDR without client certificates
  secrets PATH...       HTTPS on EDG_TEST_ADDR answering {PATH: base64(content)}
                        (Go's JSON for map[string][]byte) for the files given
  client                GET https://EDG_TEST_ADDR/ with the marble certificate,
                        server verified against the Marble Root; exit 0 on 200
  monotonic-counter     POST /api/v2/monotonic-counter on EDG_COORDINATOR_CLIENT_ADDR
                        with the marble certificate: name "foo" value 2 answers 0,
                        value 3 answers 2

A server writes its bound address to DIR/addr once it listens (EDG_TEST_ADDR
may use port 0: no port race). Exit 0 = the marble succeeded, 1 = it failed.
"""
import base64
import http.client
import http.server
import json
import os
import ssl
import sys


def env_file(d, name):
    return os.path.join(d, "env", name)


def fs_path(d, path):
    return os.path.join(d, "fs", path.lstrip("/"))


def marble_identity(ctx, d):
    ctx.load_cert_chain(env_file(d, "MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN"),
                        env_file(d, "MARBLE_PREDEFINED_PRIVATE_KEY"))


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    return host or "127.0.0.1", int(port)


def serve(d, verify_clients, payload):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    marble_identity(ctx, d)
    if verify_clients:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(env_file(d, "MARBLE_PREDEFINED_ROOT_CA"))

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if payload is not None else "text/plain")
            body = json.dumps(payload).encode() if payload is not None else b"test marble says hello\n"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write("marble: " + (fmt % args) + "\n")

    srv = http.server.HTTPServer(split_addr(os.environ["EDG_TEST_ADDR"]), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    host, port = srv.socket.getsockname()[:2]
    tmp = os.path.join(d, "addr.tmp")
    with open(tmp, "w") as f:
        f.write("%s:%d" % (host, port))
    os.rename(tmp, os.path.join(d, "addr"))
    srv.serve_forever()


def client(d):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    marble_identity(ctx, d)
    ctx.load_verify_locations(env_file(d, "MARBLE_PREDEFINED_ROOT_CA"))
    host, port = split_addr(os.environ["EDG_TEST_ADDR"])
    try:
        c = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        print("marble client: %s" % e, file=sys.stderr)
        return 1
    print("marble client: server answered %d" % r.status, file=sys.stderr)
    return 0 if r.status == 200 else 1


def monotonic_counter(d):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    marble_identity(ctx, d)
    ctx.load_verify_locations(env_file(d, "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA"))
    host, port = split_addr(os.environ["EDG_COORDINATOR_CLIENT_ADDR"])
    for value, want in ((2, 0), (3, 2)):
        try:
            c = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
            c.request("POST", "/api/v2/monotonic-counter", json.dumps({"name": "foo", "value": value}),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            print("monotonic-counter: %s" % e, file=sys.stderr)
            return 1
        try:
            got = json.loads(body)["data"]["value"]
        except (ValueError, KeyError, TypeError):
            print("monotonic-counter: HTTP %d %r" % (r.status, body[:300]), file=sys.stderr)
            return 1
        if r.status != 200 or got != want:
            print("monotonic-counter: set %d: HTTP %d, previous value %r, expected %d" % (value, r.status, got, want),
                  file=sys.stderr)
            return 1
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    d, mode = sys.argv[1], sys.argv[2]
    if mode == "serve":
        serve(d, True, None)
    elif mode == "serve-no-client-auth":
        serve(d, False, None)
    elif mode == "secrets":
        payload = {}
        for p in sys.argv[3:]:
            with open(fs_path(d, p), "rb") as f:
                payload[p] = base64.b64encode(f.read()).decode()
        serve(d, False, payload)
    elif mode == "client":
        return client(d)
    elif mode == "monotonic-counter":
        return monotonic_counter(d)
    else:
        print("unknown mode %s" % mode, file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
