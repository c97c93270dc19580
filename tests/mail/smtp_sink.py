"""A real SMTP server on loopback for the end-to-end tests (aiosmtpd).

Every message it accepts is written whole to DIR as one .eml file (written aside, then
renamed). `--reject ADDRESS` refuses that recipient for good (550), to test dead letters.
Prints "ready" once it listens; runs until killed.

    python3 tests/mail/smtp_sink.py --port 2525 --dir /tmp/mail [--reject nobody@example.org]
"""

import argparse
import os
import signal
import time
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, reject):
        self.folder = folder
        self.reject = {r.lower() for r in reject}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        part = os.path.join(self.folder, "." + name)
        with open(part, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(part, os.path.join(self.folder, name))
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reject", action="append", default=[])
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        Sink(args.dir, args.reject), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
