#!/usr/bin/python3
"""A KBS attestation-protocol client, written from Trustee's protocol document
(kbs/docs/kbs_attestation_protocol.md) and the guest side's conventions, not
from Cairn's code. The JOSE side is jwcrypto (Debian python3-jwcrypto).

  kbs_client.py --url https://HOST:PORT --cacert ROOT.pem get-resource REPO/TYPE/TAG
      [--key ec|ec521|rsa] [--tee sample] [--token-out FILE] [--out FILE]

does the RCAR handshake (POST /kbs/v0/auth, POST /kbs/v0/attest with the
runtime data hash in "sample" evidence, the only evidence a machine without a
TEE can produce), then GET /kbs/v0/resource/... with the session cookie,
decrypts the JWE with the ephemeral key and writes the plaintext.

As a library (tests): KbsClient, runtime_data_digest, serde_protected, decrypt.
"""
import argparse
import base64
import hashlib
import http.client
import json
import ssl
import sys
import urllib.parse

from jwcrypto import jwe as jjwe
from jwcrypto import jwk as jjwk

PROTOCOL_VERSION = "0.4.0"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def canonical(obj):
    """RFC 8785 for objects of strings: sorted keys, no spaces, minimal escapes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def runtime_data_digest(nonce, tee_pubkey, additional=""):
    """The guest's binding: SHA-384 over the canonical runtime data (the default
    hash when the challenge's extra-params select none)."""
    rd = {"tee-pubkey": tee_pubkey, "nonce": nonce, "additional-evidence": additional}
    return hashlib.sha384(canonical(rd)).digest()


def new_key(kind="ec"):
    """An ephemeral TEE key pair and its public JWK as the guest sends it."""
    if kind == "ec":
        k = jjwk.JWK.generate(kty="EC", crv="P-256")
        alg = "ECDH-ES+A256KW"
    elif kind == "ec521":
        k = jjwk.JWK.generate(kty="EC", crv="P-521")
        alg = "ECDH-ES+A256KW"
    elif kind == "rsa":
        k = jjwk.JWK.generate(kty="RSA", size=2048)
        alg = "RSA-OAEP-256"
    else:
        raise ValueError(kind)
    pub = json.loads(k.export_public())
    if pub["kty"] == "EC":
        pub = {"kty": "EC", "crv": pub["crv"], "alg": alg, "x": pub["x"], "y": pub["y"]}
    else:
        pub = {"kty": "RSA", "alg": alg, "n": pub["n"], "e": pub["e"]}
    return k, pub


def serde_protected(protected_b64):
    """What guest-components recomputes as AAD: its ProtectedHeader serialised
    again by serde (alg, enc, then the other members as a sorted map, nested
    maps sorted too, compact)."""
    hdr = json.loads(b64url_dec(protected_b64))
    ordered = {"alg": hdr.pop("alg"), "enc": hdr.pop("enc")}
    for k in sorted(hdr):
        ordered[k] = json.loads(json.dumps(hdr[k], sort_keys=True))
    return b64url(json.dumps(ordered, separators=(",", ":")).encode())


def decrypt(body, key):
    """Decrypts a flattened JWE resource response with the ephemeral key."""
    obj = json.loads(body)
    for m in ("protected", "encrypted_key", "iv", "ciphertext", "tag"):
        if m not in obj:
            raise ValueError("JWE response without %s" % m)
    if serde_protected(obj["protected"]) != obj["protected"]:
        raise ValueError("protected header is not in the serialisation guest-components re-creates: %r"
                         % b64url_dec(obj["protected"]))
    token = jjwe.JWE()
    token.deserialize(body if isinstance(body, str) else body.decode(), key=key)
    return token.payload


class KbsClient:
    def __init__(self, url, cacert):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=cacert)
        self.ctx.check_hostname = False   # the root certificate pins the server
        self.cookie = None

    def request(self, method, path, body=None, headers=None, cookie=True):
        c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=20)
        h = dict(headers or {})
        if body is not None:
            body = json.dumps(body).encode() if not isinstance(body, (bytes, str)) else body
            h["Content-Type"] = "application/json"
        if cookie and self.cookie:
            h["Cookie"] = "kbs-session-id=" + self.cookie
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        sc = r.getheader("Set-Cookie")
        if sc and sc.startswith("kbs-session-id="):
            self.cookie = sc.split(";")[0].split("=", 1)[1]
        c.close()
        return r.status, data, sc

    def auth(self, tee="sample", version=PROTOCOL_VERSION, extra=None):
        req = {"version": version, "tee": tee,
               "extra-params": extra if extra is not None else {"supported-hash-algorithms": ["sha256", "sha384",
                                                                                              "sha512", "sm3"]}}
        return self.request("POST", "/kbs/v0/auth", req)

    def attest(self, body):
        return self.request("POST", "/kbs/v0/attest", body)

    def resource(self, path, token=None, cookie=True):
        h = {"Authorization": "Bearer " + token} if token else {}
        return self.request("GET", "/kbs/v0/resource/" + path, headers=h, cookie=cookie)


def attestation(nonce, pub, evidence):
    return {"runtime-data": {"nonce": nonce, "tee-pubkey": pub},
            "tee-evidence": {"primary_evidence": evidence, "additional_evidence": ""}}


def sample_evidence(digest):
    return {"svn": "1", "report_data": base64.b64encode(digest).decode()}


def handshake(client, kind="ec"):
    """auth + attest with sample evidence; returns (key, pub, token)."""
    st, body, _ = client.auth("sample")
    if st != 200:
        raise RuntimeError("auth: %d %s" % (st, body))
    nonce = json.loads(body)["nonce"]
    key, pub = new_key(kind)
    st, body, _ = client.attest(attestation(nonce, pub, sample_evidence(runtime_data_digest(nonce, pub))))
    if st != 200:
        raise RuntimeError("attest: %d %s" % (st, body))
    return key, pub, json.loads(body)["token"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--key", default="ec", choices=["ec", "ec521", "rsa"])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get-resource")
    g.add_argument("path")
    g.add_argument("--out")
    g.add_argument("--token-out")
    a = ap.parse_args()
    client = KbsClient(a.url, a.cacert)
    try:
        key, _, token = handshake(client, a.key)
    except RuntimeError as e:
        print("kbs_client: %s" % e, file=sys.stderr)
        return 1
    if a.token_out:
        with open(a.token_out, "w") as f:
            f.write(token)
    st, body, _ = client.resource(a.path)
    if st != 200:
        print("kbs_client: resource: %d %s" % (st, body.decode(errors="replace")), file=sys.stderr)
        return 1
    pt = decrypt(body, key)
    if a.out:
        with open(a.out, "wb") as f:
            f.write(pt)
    else:
        sys.stdout.buffer.write(pt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
