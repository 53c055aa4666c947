#!/usr/bin/env python3
"""A real SMTP server on 127.0.0.1 for the email tests (aiosmtpd).

    python3 smtp_sink.py PORT OUTDIR [PASSWORD]

Writes every message it accepts to OUTDIR, one file per recipient (`<n>-<address>.eml`, the
bytes as received; the envelope sender in `.from-<n>-<address>.eml`). Scripted refusals by address: any address containing `reject` gets
`550 5.1.1` (permanent); one containing `later` gets `451 4.7.1` (transient) the first time
and is accepted after that. With PASSWORD, a login is required (any user, that password;
over plain text, as a local relay might) and a wrong one gets `535 5.7.8`. A sender address
containing `bounce` gets `553 5.1.7` at MAIL FROM. Prints `ready` when it listens.
"""
import os
import collections
import itertools
import pathlib
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.counter = itertools.count(1)
        self.deferred = collections.Counter()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if "bounce" in address:
            return "553 5.1.7 <%s>: Sender address rejected: not owned by user" % address
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject" in address:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if "later" in address and self.deferred[address] < 1:
            self.deferred[address] += 1
            return "451 4.7.1 <%s>: Please try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            name = "%04d-%s.eml" % (next(self.counter), rcpt)
            # Written whole under a hidden name, then renamed: a test reading the folder
            # never sees half a message.
            partial = self.outdir / ("." + name)
            partial.write_bytes(envelope.original_content or envelope.content)
            # The envelope sender (the return path bounces go to), beside it.
            (self.outdir / (".from-" + name)).write_text(envelope.mail_from or "")
            os.replace(partial, self.outdir / name)
        return "250 Message accepted for delivery"


def main():
    port, outdir = int(sys.argv[1]), pathlib.Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    options = {}
    if len(sys.argv) > 3:
        password = sys.argv[3].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.password == password
            # handled=False: aiosmtpd answers a refusal with 535 itself.
            return AuthResult(success=ok, handled=False)

        options = dict(auth_required=True, auth_require_tls=False, authenticator=authenticator)
    controller = Controller(Sink(outdir), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
