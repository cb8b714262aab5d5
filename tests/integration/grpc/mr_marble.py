#!/usr/bin/python3
"""A MarbleRun marble, written independently of Cairn: it activates with
python3-grpcio against a Coordinator's mesh port exactly as MarbleRun's premain
does (marble/premain: P-384 key, self-signed TLS client certificate with CN
"MarbleRun Marble", a CSR with the same key, a quote over SHA-256 of the
certificate DER or an empty quote without a TEE, rpc.Marble/Activate over TLS
without verifying the Coordinator), then checks what came back.

The gRPC stubs are generated at run time from Cairn's src/rpc/coordinator.proto
with grpc_tools.protoc (python3-grpc-tools) into a temporary directory.

Usage (every option also has an environment variable, MarbleRun's names where
MarbleRun has one):
  mr_marble.py --coordinator HOST:PORT     EDG_MARBLE_COORDINATOR_ADDR (default localhost:2001)
               --type TYPE                 EDG_MARBLE_TYPE (required)
               --uuid UUID | --uuid-file F EDG_MARBLE_UUID / EDG_MARBLE_UUID_FILE
                                           (a missing file gets a new UUIDv4, mode 0600, as premain)
               --dns-names a,b             EDG_MARBLE_DNS_NAMES (default localhost)
               --quote sim|empty|FILE      MR_QUOTE (default empty): "sim" = Cairn's simulation
                                           evidence over the certificate hash, sent as a JSON
                                           evidence object in Quote; "empty" = what premain sends
                                           without a TEE; FILE = raw quote bytes from a file
               --proto PATH                MR_PROTO (default: ../../../src/rpc/coordinator.proto)
               --marble-root PEM_FILE      check the leaf also against this Marble Root / intermediate
               --expect-file PATH=TEXT     the returned Files[PATH] must equal TEXT (repeatable)
               --expect-file-contains PATH=TEXT   ... must contain TEXT
               --expect-env NAME=TEXT      Env[NAME] must equal TEXT (repeatable)
               --expect-argv JSON          Argv must equal this JSON array
               --expect-code CODE          expect a refusal with this gRPC status name
                                           (e.g. PERMISSION_DENIED); exit 0 when it matches
               --expect-message TEXT       ... whose message contains TEXT
               --write-files DIR           apply Files under DIR as premain (dirs 0700, files 0600)
               --timeout SECONDS           per call (default 20)
               --wire grpc|json            MR_WIRE (default grpc): json sends the same request as
                                           Cairn's JSON POST /api/v2/activate over HTTP/1.1 (for
                                           comparing both wires; "code" is then mapped from the
                                           HTTP status: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
                                           403 PERMISSION_DENIED, 503 FAILED_PRECONDITION, 500 INTERNAL)
Output: one JSON object on stdout: {"activated", "code", "message", "uuid",
"files" {path: text or {"base64"}}, "env", "argv", "checks" [...], "failures" [...]}.
Exit codes: 0 activated and every expectation met (or the expected refusal);
1 refused by the Coordinator unexpectedly (or transport failure); 2 activated but
an expectation or certificate check failed; 3 usage or environment error.
"""
import argparse
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import uuid as uuidlib

try:
    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as e:  # pragma: no cover
    print(json.dumps({"error": "missing module: %s" % e}))
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
MARBLE_TYPE_OID = x509.ObjectIdentifier("1.3.9903.2.1")


def env(name, default=None):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def parse_args():
    p = argparse.ArgumentParser(description="MarbleRun-style gRPC test marble")
    p.add_argument("--coordinator", default=env("EDG_MARBLE_COORDINATOR_ADDR", "localhost:2001"))
    p.add_argument("--type", default=env("EDG_MARBLE_TYPE"))
    p.add_argument("--uuid", default=env("EDG_MARBLE_UUID"))
    p.add_argument("--uuid-file", default=env("EDG_MARBLE_UUID_FILE"))
    p.add_argument("--dns-names", default=env("EDG_MARBLE_DNS_NAMES", "localhost"))
    p.add_argument("--quote", default=env("MR_QUOTE", "empty"))
    p.add_argument("--proto", default=env("MR_PROTO", os.path.join(HERE, "../../../src/rpc/coordinator.proto")))
    p.add_argument("--marble-root")
    p.add_argument("--expect-file", action="append", default=[])
    p.add_argument("--expect-file-contains", action="append", default=[])
    p.add_argument("--expect-env", action="append", default=[])
    p.add_argument("--expect-argv")
    p.add_argument("--expect-code")
    p.add_argument("--expect-message")
    p.add_argument("--write-files")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--wire", default=env("MR_WIRE", "grpc"), choices=["grpc", "json"])
    a = p.parse_args()
    if not a.type:
        p.error("--type (or EDG_MARBLE_TYPE) is required")
    return a


def load_stubs(proto):
    """Generates coordinator_pb2{,_grpc}.py from the .proto into a temp dir."""
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="mr_marble_pb_")
    inc = os.path.dirname(os.path.abspath(proto))
    rc = protoc.main(["protoc", "-I" + inc, "--python_out=" + out, "--grpc_python_out=" + out,
                      os.path.abspath(proto)])
    if rc != 0:
        raise RuntimeError("grpc_tools.protoc failed on %s" % proto)
    sys.path.insert(0, out)
    import coordinator_pb2
    import coordinator_pb2_grpc
    return coordinator_pb2, coordinator_pb2_grpc


def marble_uuid(a):
    if a.uuid:
        return str(uuidlib.UUID(a.uuid))
    path = a.uuid_file or os.path.join(env("EDG_CWD", os.getcwd()), "uuid")
    try:
        with open(path) as f:
            return str(uuidlib.UUID(f.read().strip()))
    except FileNotFoundError:
        u = str(uuidlib.uuid4())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(u)
        return u


def names(dns_list):
    dns, ips = [], [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    for n in [x.strip() for x in dns_list.split(",") if x.strip()]:
        try:
            ips.append(ipaddress.ip_address(n))
        except ValueError:
            dns.append(n)
    return dns, ips


def self_signed(key, dns, ips):
    """premain's TLS client certificate: self-signed, CN "MarbleRun Marble"."""
    now = datetime.datetime.utcnow()
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MarbleRun Marble")])
    san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(i) for i in ips]
    return (x509.CertificateBuilder().subject_name(subj).issuer_name(subj).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365 * 292))
            .add_extension(x509.KeyUsage(digital_signature=True, key_agreement=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(key, hashes.SHA256()))


def csr_for(key, dns, ips):
    """premain's CSR: same key, empty subject, the DNS names and IPs."""
    san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(i) for i in ips]
    return (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
            .add_extension(x509.SubjectAlternativeName(san), critical=False).sign(key, hashes.SHA256()))


def quote_for(mode, cert_der):
    """Report data = SHA-256(certificate DER), zero-padded to 64 bytes."""
    if mode == "empty":
        return b""
    if mode == "sim":
        rd = hashlib.sha256(cert_der).digest() + bytes(32)
        return json.dumps({"type": "sim", "quote": base64.b64encode(rd).decode()}).encode()
    with open(mode, "rb") as f:
        return f.read()


def show(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(b).decode()}


def openssl_verify(leaf_pem, ca_pem):
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "leaf.pem"), "wb").write(leaf_pem)
        open(os.path.join(d, "ca.pem"), "wb").write(ca_pem)
        r = subprocess.run(["openssl", "verify", "-partial_chain", "-CAfile", os.path.join(d, "ca.pem"),
                            os.path.join(d, "leaf.pem")], capture_output=True, text=True)
        return r.returncode == 0, (r.stdout + r.stderr).strip()


def check_marble_cert(env_map, uuid_s, mtype, extra_root, checks, failures):
    """The leaf in MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN: CN=UUID, the
    marble type extension, chains to MARBLE_PREDEFINED_ROOT_CA (the Marble Root),
    and its key matches MARBLE_PREDEFINED_PRIVATE_KEY."""
    need = ["MARBLE_PREDEFINED_ROOT_CA", "MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN",
            "MARBLE_PREDEFINED_PRIVATE_KEY", "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA"]
    for n in need:
        if n not in env_map:
            failures.append("Env lacks %s" % n)
    if failures:
        return
    pem = env_map["MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN"]
    first = pem[: pem.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")]
    leaf = x509.load_pem_x509_certificate(first)
    cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cn or cn[0].value != uuid_s:
        failures.append("leaf CN is %r, expected the UUID %s" % (cn[0].value if cn else None, uuid_s))
    else:
        checks.append("leaf CN = UUID")
    try:
        ext = leaf.extensions.get_extension_for_oid(MARBLE_TYPE_OID).value.value
        if ext != mtype.encode():
            failures.append("marble type extension is %r" % ext)
        else:
            checks.append("leaf extension 1.3.9903.2.1 = marble type")
    except x509.ExtensionNotFound:
        failures.append("leaf lacks extension 1.3.9903.2.1")
    key = serialization.load_pem_private_key(env_map["MARBLE_PREDEFINED_PRIVATE_KEY"], None)
    if key.public_key().public_numbers() != leaf.public_key().public_numbers():
        failures.append("MARBLE_PREDEFINED_PRIVATE_KEY does not match the leaf")
    elif not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        failures.append("marble key is not P-384")
    else:
        checks.append("private key matches the leaf (P-384)")
    ok, out = openssl_verify(first, env_map["MARBLE_PREDEFINED_ROOT_CA"])
    (checks.append("leaf chains to the Marble Root") if ok else failures.append("leaf does not chain to the Marble "
                                                                                 "Root: " + out))
    if extra_root:
        ok, out = openssl_verify(first, open(extra_root, "rb").read())
        (checks.append("leaf chains to --marble-root") if ok else failures.append("leaf does not chain to "
                                                                                  "--marble-root: " + out))


HTTP_TO_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                413: "RESOURCE_EXHAUSTED", 503: "FAILED_PRECONDITION", 500: "INTERNAL"}


class Refused(Exception):
    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code, self.message = code, message


def activate_json(a, key, cert, csr_der, quote, uuid_s):
    """The same request over Cairn's JSON wire (HTTP/1.1, mutual TLS, no server check)."""
    import http.client
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tempfile.TemporaryDirectory() as d:
        cp, kp = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        open(cp, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
        open(kp, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        ctx.load_cert_chain(cp, kp)
    body = {"marbleType": a.type, "uuid": uuid_s, "csr": base64.b64encode(csr_der).decode()}
    if quote[:1] == b"{":
        body["evidence"] = json.loads(quote)
    else:
        body["quote"] = base64.b64encode(quote).decode()
    host, port = a.coordinator.rsplit(":", 1)
    c = http.client.HTTPSConnection(host.strip("[]"), int(port), context=ctx, timeout=a.timeout)
    c.request("POST", "/api/v2/activate", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    try:
        j = json.loads(raw)
    except ValueError:
        raise Refused("INTERNAL", "HTTP %d: %r" % (r.status, raw[:200]))
    if r.status != 200:
        raise Refused(HTTP_TO_CODE.get(r.status, "HTTP_%d" % r.status), j.get("message"))
    d = j["data"]
    dec = lambda m: {k: base64.b64decode(v) for k, v in (m or {}).items()}
    return dec(d.get("files")), dec(d.get("env")), list(d.get("argv") or [])


def main():
    a = parse_args()
    try:
        pb2, pb2_grpc = load_stubs(a.proto)
        uuid_s = marble_uuid(a)
        dns, ips = names(a.dns_names)
        key = ec.generate_private_key(ec.SECP384R1())
        cert = self_signed(key, dns, ips)
        cert_der = cert.public_bytes(serialization.Encoding.DER)
        csr = csr_for(key, dns, ips)
        quote = quote_for(a.quote, cert_der)
    except Exception as e:  # usage / environment
        print(json.dumps({"error": str(e)}))
        return 3
    out = {"uuid": uuid_s, "activated": False, "wire": a.wire, "checks": [], "failures": []}
    csr_der = csr.public_bytes(serialization.Encoding.DER)
    try:
        if a.wire == "json":
            files, env_map, argv = activate_json(a, key, cert, csr_der, quote, uuid_s)
        else:
            files, env_map, argv = activate_grpc(a, pb2, pb2_grpc, key, cert, csr_der, quote, uuid_s)
    except Refused as e:
        out["code"], out["message"] = e.code, e.message
        if a.expect_code:
            if e.code != a.expect_code:
                out["failures"].append("expected %s, got %s" % (a.expect_code, e.code))
            if a.expect_message and a.expect_message not in (e.message or ""):
                out["failures"].append("message %r lacks %r" % (e.message, a.expect_message))
            print(json.dumps(out, indent=1))
            return 0 if not out["failures"] else 2
        print(json.dumps(out, indent=1))
        return 1
    return report(a, out, files, env_map, argv, uuid_s)


def activate_grpc(a, pb2, pb2_grpc, key, cert, csr_der, quote, uuid_s):
    # premain dials with InsecureSkipVerify: the Coordinator is not authenticated.
    # grpcio cannot skip verification, so the server's own certificate is fetched
    # and trusted for this one connection (the same effect: any server accepted).
    host, port = a.coordinator.rsplit(":", 1)
    import ssl
    try:
        server_pem = ssl.get_server_certificate((host.strip("[]"), int(port))).encode()
    except Exception as e:
        raise Refused("UNAVAILABLE", "cannot reach %s: %s" % (a.coordinator, e))
    sn = x509.load_pem_x509_certificate(server_pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    creds = grpc.ssl_channel_credentials(
        root_certificates=server_pem,
        private_key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()),
        certificate_chain=cert.public_bytes(serialization.Encoding.PEM))
    # :authority is the dialled host (grpcio then accepts the overridden name: it
    # checks the call host against the target host); the TLS name check uses the CN
    opts = [("grpc.ssl_target_name_override", sn), ("grpc.default_authority", host.strip("[]")), ("grpc.max_receive_message_length", 64 << 20)]
    req = pb2.ActivationReq(Quote=quote, CSR=csr_der, MarbleType=a.type, UUID=uuid_s)
    with grpc.secure_channel(a.coordinator, creds, options=opts) as ch:
        try:
            resp = pb2_grpc.MarbleStub(ch).Activate(req, timeout=a.timeout)
        except grpc.RpcError as e:
            raise Refused(e.code().name, e.details())
    p = resp.Parameters
    return dict(p.Files), dict(p.Env), list(p.Argv)


def report(a, out, files, env_map, argv_list, uuid_s):
    out["activated"] = True
    out["code"] = "OK"
    out["files"] = {k: show(v) for k, v in files.items()}
    out["env"] = {k: show(v) for k, v in env_map.items()}
    # premain: os.Args = Argv, or ["./marble"] when empty
    out["argv"] = argv_list if argv_list else ["./marble"]
    fails = out["failures"]
    if a.expect_code:
        fails.append("expected a refusal %s, but the marble was activated" % a.expect_code)
    for spec in a.expect_file:
        k, v = spec.split("=", 1)
        if files.get(k) != v.encode():
            fails.append("Files[%s] = %r, expected %r" % (k, files.get(k), v))
    for spec in a.expect_file_contains:
        k, v = spec.split("=", 1)
        if v.encode() not in files.get(k, b""):
            fails.append("Files[%s] lacks %r" % (k, v))
    for spec in a.expect_env:
        k, v = spec.split("=", 1)
        if env_map.get(k) != v.encode():
            fails.append("Env[%s] = %r, expected %r" % (k, env_map.get(k), v))
    if a.expect_argv is not None and argv_list != json.loads(a.expect_argv):
        fails.append("Argv = %r, expected %s" % (argv_list, a.expect_argv))
    check_marble_cert(env_map, uuid_s, a.type, a.marble_root, out["checks"], fails)
    if a.write_files:
        for k, v in files.items():
            dst = os.path.join(a.write_files, k.lstrip("/"))
            os.makedirs(os.path.dirname(dst), mode=0o700, exist_ok=True)
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(v)
    print(json.dumps(out, indent=1))
    return 0 if not fails else 2


if __name__ == "__main__":
    sys.exit(main())
