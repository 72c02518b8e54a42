"""The respondent page's language (``?sprak=CODE``), read-aloud recordings and their URL.

/s/ljud/<version id>   a question version's recording (under /s/: no access-log line)

A page is shown in a language only when it is offered now (approved, nothing missing
or stale) and the questionnaire is a participants' one; anything else — an unknown or
unapproved code, a stale translation — shows the Swedish form. The language travels
with the form in a hidden field ``sprak`` so that the page can be shown again in it
and the per-round language counter can count it; it is never stored with the answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import abort, current_app, request, send_from_directory

from indicators.instrument import Instrument, Questionnaire
from surveys import db
from surveys.services import audio
from surveys.services.respondent import instrument as current_instrument
from surveys.services.translations import (
    LANGUAGES,
    SCRIPT_KEYS,
    SWEDISH,
    UI_TEXTS,
    Language,
    Offered,
    count_language,
    offered,
)


def chosen(instrument: Instrument, qn: Questionnaire) -> tuple[Language | None, Offered | None]:
    """The page's language (None: Swedish) and the languages offered to this questionnaire."""
    if not qn.participant:
        return None, None
    available = offered(db.session, instrument)  # a session only when the cache is stale
    if not available.languages:
        return None, available
    source = request.form if request.method == "POST" else request.args
    return available.get(source.get("sprak")), available


def translator(lang: Language | None, available: Offered | None) -> Callable[..., str]:
    """tr(key, swedish=None): the text in the page's language, or the Swedish one."""
    texts = available.texts.get(lang.code, {}) if lang and available else {}

    def tr(key: str, swedish: str | None = None) -> str:
        return texts.get(key) or (swedish if swedish is not None else UI_TEXTS[key])

    return tr


def context(instrument: Instrument, qn: Questionnaire) -> dict:
    """What the form template needs for language, picker and read-aloud.

    Every form GET and POST asks: the answer is kept per worker while the offered
    translations (their cache's object) and the recordings (their listing's object)
    stay the same, so only a lookup remains.
    """
    lang, available = chosen(instrument, qn)
    recordings = audio.recordings(current_app.config["INSTANCE_DIR"])
    cache = current_app.extensions.setdefault("language_context", {})
    key = lang.code if lang else None
    cached = cache.get(key)
    if cached is not None and cached[0] is available and cached[1] is recordings:
        return cached[2]
    built = _context(lang, available, recordings)
    cache[key] = (available, recordings, built)
    return built


def _context(lang: Language | None, available: Offered | None, recordings: dict) -> dict:
    tr = translator(lang, available)
    shown = lang or SWEDISH
    return {
        "lang": lang,
        "html_lang": shown.code,
        "html_dir": shown.direction,
        "font_script": shown.script,
        "tr": tr,
        "languages": list(available.languages) if available else [],
        "recordings": recordings,
        "script_texts": json.dumps({k: tr(k) for k in SCRIPT_KEYS}, ensure_ascii=False)
        if lang
        else "",
        # the rendered first step differs by all of these (see flow._first_step)
        "language_source": available,  # a new object when the translations' cache refreshes
        "language_key": (
            shown.code,
            tuple(x.code for x in available.languages) if available else (),
            tuple(sorted(recordings.items())),
        ),
    }


def thanks_context() -> dict:
    """The "Tack" page in the language of ?sprak= when it is offered (else Swedish)."""
    available = offered(db.session, current_instrument())
    lang = available.get(request.args.get("sprak"))
    shown = lang or SWEDISH
    return {
        "tr": translator(lang, available),
        "html_lang": shown.code,
        "html_dir": shown.direction,
        "font_script": shown.script,
    }


def count_answered_in(round_id: str, lang: Language | None) -> None:
    """After a stored questionnaire: one more for its language (Swedish is not counted).

    Its own small transaction, apart from the answers (as the weekly counter is kept
    apart): nothing ties the count to a questionnaire."""
    if lang is None or lang.code not in LANGUAGES:
        return
    with db.own_transaction(db.session()) as session:
        count_language(session, round_id, lang.code)


def swedish(key: str, swedish: str | None = None) -> str:
    """The template global ``tr`` on pages rendered without a language: the Swedish text."""
    return swedish if swedish is not None else UI_TEXTS[key]


def recording(version_id: str):
    """/s/ljud/<version id>: a question version's recording (the kiosk's worker keeps it)."""
    found = audio.recordings(current_app.config["INSTANCE_DIR"]).get(version_id)
    if found is None:
        abort(404)
    ext = found.rpartition(".")[2]
    return send_from_directory(
        audio.folder(current_app.config["INSTANCE_DIR"]), found, mimetype=audio.MIME[ext]
    )
