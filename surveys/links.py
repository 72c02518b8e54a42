"""The public address every printed or mailed link starts with.

``PUBLIC_URL`` when configured (production behind a proxy must set it); otherwise the
address the request came in on, so a development server on any port prints links
that open. Outside a request (CLI) the development server's address with the ``PORT``
setting.
"""

from __future__ import annotations

from flask import current_app, has_request_context, request


def public_base() -> str:
    """``https://enkat.example.se`` without a trailing slash."""
    configured = (current_app.config.get("PUBLIC_URL") or "").strip()
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return f"http://127.0.0.1:{current_app.config['PORT']}"


def public(path: str) -> str:
    """An absolute link for a path such as ``/s/abc`` (from ``url_for``)."""
    return public_base() + path
