"""What the web server does for speed: gzip, long-lived static files, the favicon.

- Responses of text types (HTML, CSS, JS, SVG, CSV, JSON) of at least ``MIN_SIZE`` bytes
  are gzipped when the client accepts gzip (``Vary: Accept-Encoding`` either way);
  a redirect (a submission's 303 to "Tack") is left as it is.
- ``url_for('static', ...)`` gets ``?v=<content hash>``; a static file asked for with
  its current hash is cached for a year (``immutable``), so a kiosk tablet never
  re-checks the CSS and JS; after a deploy the hash, and so the URL, changes.
- ``/favicon.ico`` is a small icon instead of a 404 on every first visit.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, request

MIN_SIZE = 500  # below this, gzip's header and the CPU cost more than they save
COMPRESSIBLE = {
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "image/svg+xml",
    "text/csv",
    "application/json",
    "text/plain",
}
ONE_YEAR = 31_536_000
REDIRECTS = {301, 302, 303, 307, 308}  # not 304: it keeps the Vary of the response it stands for
# A 32×32 icon (three white bars on the accent colour), 168 bytes: an ICO holding one PNG.
FAVICON = base64.b64decode(
    "AAABAAEAICAAAAEAIACSAAAAFgAAAIlQTkcNChoKAAAADUlIRFIAAAAgAAAAIAgGAAAAc3p69AAAAFlJREFUeNrt"
    "17EJACAMRNFs4mgO5NDa2ShBJJqg/yD1vTInMknKpZ440XKqdAlzu3xA/A3wKu+IJwGzAABgDtBKAAAwA+yWAAAA"
    "AIAJwDohP2OGSZxx6jnPG3ZtkIB+q8jPAAAAAElFTkSuQmCC"
)


def init_app(app: Flask) -> None:
    """Register compression, static-file versioning and the favicon on ``app``."""
    static_dir = Path(app.static_folder or "")
    versions: dict[str, str] = {}
    compressed: dict[tuple[str, str], bytes] = {}

    def version(filename: str) -> str | None:
        # Hashed once per worker: static files change only with a deploy (a restart).
        if filename not in versions or app.debug:
            path = static_dir / filename
            if not path.is_file():
                return None
            versions[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return versions[filename]

    @app.url_defaults
    def _static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            current = version(values["filename"])
            if current:
                values["v"] = current

    # The endpoint name starts with "static" so that security's no-store leaves it alone.
    @app.get("/favicon.ico", endpoint="static_favicon")
    def favicon() -> Response:
        """The site icon (browsers ask for it on their own)."""
        response = Response(FAVICON, mimetype="image/x-icon")
        response.cache_control.public = True
        response.cache_control.max_age = 7 * 86_400
        return response

    @app.after_request
    def _cache_and_compress(response: Response) -> Response:
        if request.endpoint == "static":
            _static_cache_headers(response, version)
        return _gzip(response, compressed)


def _static_cache_headers(response: Response, version: Callable[[str], str | None]) -> None:
    filename = (request.view_args or {}).get("filename", "")
    if response.status_code == 200 and request.args.get("v") == version(filename):
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
        response.cache_control.no_cache = None


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _gzip(response: Response, compressed: dict[tuple[str, str], bytes]) -> Response:
    if response.status_code in REDIRECTS:  # a redirect's few bytes are never worth it
        return response
    static = request.endpoint == "static"  # a file: safe to read whole, unlike a generator
    if response.mimetype not in COMPRESSIBLE or (response.is_streamed and not static):
        return response
    response.vary.add("Accept-Encoding")
    if (
        response.status_code in (204, 206, 304)
        or "Content-Encoding" in response.headers
        or not _accepts_gzip()
    ):
        return response
    response.direct_passthrough = False  # static files come as a file wrapper
    source = response.response
    body = response.get_data()
    if hasattr(source, "close"):  # the file wrapper is replaced by bytes below
        source.close()
    if len(body) < MIN_SIZE:
        return response
    if static:
        # The same bytes every time: compress each static file once per worker.
        key = (request.path, hashlib.sha256(body).hexdigest())
        if key not in compressed:
            compressed[key] = gzip.compress(body, compresslevel=9, mtime=0)
        body = compressed[key]
    else:
        body = gzip.compress(body, compresslevel=6, mtime=0)
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag:  # a different representation needs a different validator
        response.set_etag(etag + "-gzip", weak=bool(weak))
    return response
