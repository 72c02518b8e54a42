"""Sending single-use links by e-mail. Addresses are used once and never stored.

SMTP comes from the configuration (MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD,
MAIL_STARTTLS, MAIL_TLS for implicit TLS, MAIL_SENDER). The server's certificate is
always verified (``ssl.create_default_context()``). Only in development, without
MAIL_SERVER, are messages written as .eml files to MAIL_FOLDER instead — nothing is sent.

This module never touches the database: the caller commits the links first and sends
outside any transaction.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

import email_validator

MAX_ADDRESSES = 500


class MailNotConfigured(RuntimeError):
    """Production without MAIL_SERVER: nothing may be written to disk instead."""


@dataclass
class Letter:
    """What every recipient gets, apart from their own link."""

    forbund: str  # the förbund's name (admin setting)
    questionnaire: str  # the questionnaire's Swedish name
    intervention: str | None  # the insats, or None for the whole förbund

    @property
    def subject(self) -> str:
        # one line whatever a name holds (a name stored before names were checked): a
        # line break in a header is refused by the mail library, after the links exist
        return " ".join(f"{self.forbund}: enkät – {self.questionnaire}".split())

    def text(self, link: str) -> str:
        about = f" om {self.intervention}" if self.intervention else ""
        return (
            "Hej!\n\n"
            f"{self.forbund} vill gärna veta vad du tycker{about}. "
            f'Enkäten "{self.questionnaire}" tar ett par minuter.\n'
            "Länken är personlig och kan användas en gång. Dina svar är anonyma.\n\n"
            f"{link}\n\n"
            "Tack för din medverkan!\n"
            f"{self.forbund}\n"
        )


@dataclass
class Delivery:
    """The honest outcome of a send."""

    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, its link)
    to_folder: bool = False  # development: written as files, nothing sent


def parse_addresses(text: str) -> tuple[list[str], list[str]]:
    """Split pasted text into (valid, invalid) addresses; duplicates are dropped."""
    parts = [p.strip() for p in re.split(r"[\s,;]+", text or "") if p.strip()]
    valid, invalid, seen = [], [], set()
    for part in parts:
        address = part.strip("<>")
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        try:
            email_validator.validate_email(address, check_deliverability=False)
        except email_validator.EmailNotValidError:
            invalid.append(part)
        else:
            valid.append(address)
    return valid, invalid


def build_message(*, sender: str, recipient: str, link: str, letter: Letter) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((letter.forbund, sender))
    message["To"] = recipient
    message["Subject"] = letter.subject
    message.set_content(letter.text(link))
    return message


def _connect(config: dict) -> smtplib.SMTP:
    context = ssl.create_default_context()  # verifies the certificate and the host name
    host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
    if config.get("MAIL_TLS"):
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
        if config.get("MAIL_STARTTLS"):
            smtp.starttls(context=context)
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


def deliver(config: dict, *, items: list[tuple[str, str]], letter: Letter) -> Delivery:
    """Send each (address, link); a refused address or a lost connection is reported,
    never hidden. Raises OSError/SMTPException only if no connection could be made."""
    sender = config["MAIL_SENDER"]
    messages = [
        (address, link, build_message(sender=sender, recipient=address, link=link, letter=letter))
        for address, link in items
    ]
    if not config.get("MAIL_SERVER"):
        if config.get("SURVEYS_ENV") == "production":
            raise MailNotConfigured("MAIL_SERVER saknas.")
        folder = Path(config["MAIL_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for _address, _link, message in messages:
            (folder / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))
        return Delivery(sent=len(messages), to_folder=True)
    result = Delivery()
    smtp = _connect(config)
    try:
        for index, (address, link, message) in enumerate(messages):
            try:
                smtp.send_message(message)
                result.sent += 1
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
                result.failed.append((address, link))
            except (OSError, smtplib.SMTPException):
                # The connection is gone: this and every later message were not sent.
                result.failed.extend((a, lnk) for a, lnk, _ in messages[index:])
                break
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return result


__all__ = ["Delivery", "Letter", "MailNotConfigured", "deliver", "parse_addresses"]
