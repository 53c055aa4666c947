#!/usr/bin/env python3
"""Verifies DKIM signatures with dkimpy, an implementation that is not ours.

    python3 dkim_verify.py SELECTOR=KEY.pem [SELECTOR=KEY.pem ...] -- MESSAGE.eml [...]

Each key's public half is derived with openssl and served to dkimpy as its selector's DNS
TXT record (`dnsfunc`), so nothing leaves the machine. Every message must carry exactly one
signature per key, each must verify on its own, and none may verify on a copy with one byte
of its body changed, with its Subject changed, or with a second Subject prepended above the
signed one (which only over-signing catches). Prints one line per message and signature;
exits 1 on any failure.
"""
import base64
import re
import subprocess
import sys

import dkim


def public_record(key_path):
    der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    # An Ed25519 SubjectPublicKeyInfo is 44 bytes; an RSA one is hundreds (PKCS#1 and
    # PKCS#8 private keys alike).
    if len(der) != 44:
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    # Ed25519 (RFC 8463): the raw 32-byte key, after the SubjectPublicKeyInfo prefix.
    return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])


def verify_all(message, dnsfunc, count):
    """Whether each of the `count` signatures verifies, by its index."""
    def one(i):
        try:
            return dkim.DKIM(message).verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException:
            return False
    return [one(i) for i in range(count)]


def main():
    split = sys.argv.index("--")
    records = {}
    for pair in sys.argv[1:split]:
        selector, path = pair.split("=", 1)
        records[selector.encode()] = public_record(path)

    def dnsfunc(name, timeout=5):
        return records.get(name.split(b".")[0])

    failed = False
    for path in sys.argv[split + 1:]:
        message = open(path, "rb").read()
        head, _, body = message.partition(b"\r\n\r\n")
        count = len(re.findall(rb"(?im)^dkim-signature:", head))
        ok = verify_all(message, dnsfunc, count)
        flipped = body.replace(b"a", b"b", 1) if b"a" in body else body + b"x"
        tampered_body = verify_all(head + b"\r\n\r\n" + flipped, dnsfunc, count)
        lines = head.split(b"\r\n")
        changed = [l + b" (changed)" if l.lower().startswith(b"subject:") else l for l in lines]
        tampered_subject = verify_all(b"\r\n".join(changed) + b"\r\n\r\n" + body, dnsfunc, count)
        prepended = verify_all(b"Subject: Urgent: your account\r\n" + message, dnsfunc, count)
        print(f"{path}: {count} signatures, verify={ok} tampered_body={tampered_body} "
              f"tampered_subject={tampered_subject} prepended_subject={prepended}")
        if count != len(records) or not all(ok) or any(tampered_body) \
                or any(tampered_subject) or any(prepended):
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
