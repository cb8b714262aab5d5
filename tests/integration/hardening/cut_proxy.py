#!/usr/bin/env python3
"""A TCP proxy that loses the answer to a large request (security review
finding 24): bytes flow both ways (TLS passes through to the upstream, so the
client authenticates the real Coordinator), but once a connection has carried
more than THRESHOLD bytes from the client, nothing more goes back to the
client: the upstream gets the whole request and acts on it, the client sees
the connection close without an answer.

usage: cut_proxy.py UPSTREAM_PORT THRESHOLD PORT_FILE LOG_FILE
Runs until killed (by PID)."""
import socket
import sys
import threading

up_port, threshold, port_file, log_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()


def log(msg):
    with lock, open(log_file, "a") as f:
        f.write(msg + "\n")


def serve(cli):
    up = socket.create_connection(("127.0.0.1", up_port))
    state = {"sent": 0, "cut": False}
    done = threading.Event()

    def downstream():   # upstream -> client, until the cut
        try:
            while True:
                b = up.recv(65536)
                if not b or state["cut"]:
                    break
                cli.sendall(b)
        except OSError:
            pass
        done.set()

    threading.Thread(target=downstream, daemon=True).start()
    try:
        while True:
            b = cli.recv(65536)
            if not b:
                break
            up.sendall(b)
            state["sent"] += len(b)
            if state["sent"] > threshold and not state["cut"]:
                state["cut"] = True
                log("cut after %d bytes from the client" % state["sent"])
                # let the rest of the request through, then drop the client
                cli.settimeout(0.5)
                try:
                    while True:
                        b = cli.recv(65536)
                        if not b:
                            break
                        up.sendall(b)
                except OSError:
                    pass
                done.wait(3)   # the upstream answered (into the void) or closed
                break
    except OSError:
        pass
    for s in (cli, up):
        try:
            s.close()
        except OSError:
            pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
