"""Sending single-use links by e-mail. Addresses are used once and never stored.

SMTP comes from the environment (MAIL_SERVER, MAIL_PORT, MAIL_USERNAME,
MAIL_PASSWORD, MAIL_STARTTLS, MAIL_SENDER). Without MAIL_SERVER (development)
each message is written as an .eml file to MAIL_FOLDER instead.
"""

from __future__ import annotations

import re
import smtplib
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

ADDRESS = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]{2,}$")
MAX_ADDRESSES = 500


def parse_addresses(text: str) -> tuple[list[str], list[str]]:
    """Split pasted text into (valid, invalid) addresses; duplicates are dropped."""
    parts = [p.strip() for p in re.split(r"[\s,;]+", text or "") if p.strip()]
    valid, invalid, seen = [], [], set()
    for part in parts:
        address = part.strip("<>").lower()
        if address in seen:
            continue
        seen.add(address)
        if ADDRESS.match(address) and len(address) <= 254:
            valid.append(part.strip("<>"))
        else:
            invalid.append(part)
    return valid, invalid


def build_message(*, sender: str, recipient: str, link: str, questionnaire: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"Enkät: {questionnaire}"
    message.set_content(
        "Hej!\n\n"
        f'Vi vill gärna veta vad du tycker. Enkäten "{questionnaire}" tar ett par minuter.\n'
        "Länken är personlig och kan användas en gång. Dina svar är anonyma.\n\n"
        f"{link}\n\n"
        "Tack för din medverkan!\n"
    )
    return message


def send_all(config: dict, messages: list[EmailMessage]) -> int:
    """Send every message over one SMTP connection, or write them to the mail folder."""
    if not config.get("MAIL_SERVER"):
        folder = Path(config["MAIL_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            (folder / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))
        return len(messages)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config.get("MAIL_STARTTLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        for message in messages:
            smtp.send_message(message)
    return len(messages)


def send_links(
    config: dict,
    *,
    addresses: list[str],
    make_link: Callable[[], str],
    questionnaire: str,
) -> int:
    """Make one single-use link per address and mail it; returns how many were sent."""
    messages = [
        build_message(
            sender=config["MAIL_SENDER"],
            recipient=address,
            link=make_link(),
            questionnaire=questionnaire,
        )
        for address in addresses
    ]
    return send_all(config, messages)
