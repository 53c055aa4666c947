#!/usr/bin/env python3
"""Verifies DKIM signatures with dkimpy, an implementation that is not ours.

    python3 dkim_verify.py KEY.pem MESSAGE.eml [MESSAGE.eml ...]

The public key is derived from the private key with openssl and served to dkimpy as the
selector's DNS TXT record (`dnsfunc`), so nothing leaves the machine. Every message must
verify, and a copy with one byte of its body changed, and one with its Subject changed,
must not. Prints one line per message; exits 1 on any failure.
"""
import base64
import subprocess
import sys

import dkim


def public_record(key_path):
    der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    text = open(key_path).read()
    if "RSA PRIVATE KEY" in text:
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    # Ed25519 (RFC 8463): the raw 32-byte key, after the SubjectPublicKeyInfo prefix.
    return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])


def main():
    record = public_record(sys.argv[1])

    def dnsfunc(name, timeout=5):
        return record

    failed = False
    for path in sys.argv[2:]:
        message = open(path, "rb").read()
        ok = dkim.verify(message, dnsfunc=dnsfunc)
        head, _, body = message.partition(b"\r\n\r\n")
        flipped = body.replace(b"a", b"b", 1) if b"a" in body else body + b"x"
        tampered_body = dkim.verify(head + b"\r\n\r\n" + flipped, dnsfunc=dnsfunc)
        lines = head.split(b"\r\n")
        lines = [l + b" (changed)" if l.lower().startswith(b"subject:") else l for l in lines]
        tampered_subject = dkim.verify(b"\r\n".join(lines) + b"\r\n\r\n" + body, dnsfunc=dnsfunc)
        print(f"{path}: verify={ok} tampered_body={tampered_body} tampered_subject={tampered_subject}")
        if not ok or tampered_body or tampered_subject:
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
