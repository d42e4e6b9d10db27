"""A real SMTP server on loopback for tests (aiosmtpd): it keeps every message it receives, parsed,
or refuses them all with a 554 when `refuse` is set; and the text of the PDFs attached."""

from __future__ import annotations

import re
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MailServer:
    port: int
    refuse: bool = False
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if self.refuse:
            return "554 Transaction failed: refused for the test"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [message for _, _, message in self.received]

    def settings_toml(self, sender: str = "ar@acme.test") -> str:
        return f'[mail]\nhost = "127.0.0.1"\nport = {self.port}\nsender = "{sender}"\nstarttls = false\n'


@contextmanager
def mail_server() -> Iterator[MailServer]:
    server = MailServer(free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def pdf_text(pdf: bytes) -> str:
    """The text a PDF of core fonts shows: the strings of its (deflated) content streams."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            stream = zlib.decompress(stream)
        except zlib.error:
            pass
        shown += [s.decode("latin-1") for s in re.findall(rb"\((.*?)(?<!\\)\) ?Tj", stream)]
    return "\n".join(shown)
