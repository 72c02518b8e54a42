"""Issue 22 in headless Chromium on a tablet: an approved Arabic translation right to left,
stored exactly as the Swedish form stores; axe-core on the right-to-left page; "Lyssna"
with a stub voice (the exact text and language) and with a recording, also offline."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from surveys import db
from surveys.services.translations import LANGUAGES
from tests.browsing import transferred, wait_for_sw, wait_until
from tests.conftest import TABLET, axe_violations
from tests.translation_fixture import Q1, load_fixture_translation, tiny_wav

pytestmark = pytest.mark.browser

# A speechSynthesis that has voices only for the languages given, and records what it is
# asked to say (text, language) and which part of the page is highlighted at that moment.
STUB_VOICE = """
(() => {
  const langs = %s;
  window.__spoken = []; window.__played = [];
  class Utterance { constructor(text) { this.text = text; this.lang = ""; this.voice = null; } }
  window.SpeechSynthesisUtterance = Utterance;
  const synth = {
    getVoices: () => langs.map((l) => ({ lang: l, name: "Stub " + l })),
    speak(u) {
      const lit = document.querySelector(".reading");
      window.__spoken.push({ text: u.text, lang: u.lang, voice: u.voice && u.voice.lang,
                             highlighted: lit ? lit.textContent.trim() : null });
      setTimeout(() => u.onend && u.onend(), 20);
    },
    cancel() {}, addEventListener() {},
  };
  Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    const record = { src: this.src, ended: false, error: false };
    window.__played.push(record);
    this.addEventListener("ended", () => { record.ended = true; });
    this.addEventListener("error", () => { record.error = true; });
    this.muted = true;
    return play.call(this);
  };
})();
"""


def context_with_voice(browser, langs: list[str], **options):
    context = browser.new_context(viewport=TABLET, locale="sv-SE", has_touch=True, **options)
    context.add_init_script(STUB_VOICE % langs)
    return context


def stored(app) -> list[tuple]:
    release_all_rounds(app)
    with app.app_context():
        rows = db.session().execute(
            text(
                "SELECT r.id, r.gender, a.question_version_id, a.code FROM response r "
                "JOIN answer a ON a.response_id = r.id"
            )
        )
        by_response: dict[str, list] = {}
        for rid, gender, version, code in rows:
            by_response.setdefault(rid, []).append((gender, version, code))
    return sorted(sorted(answers) for answers in by_response.values())


def release_all_rounds(app) -> None:
    from tests.conftest import release_all

    release_all(app)


def test_arabic_kiosk_right_to_left_stores_what_swedish_stores(
    app,
    live_server,
    browser,
    runner,
    tmp_path,
    make_round,
):
    app.config.update(KIOSK_THANKS_SECONDS=4, KIOSK_IDLE_SECONDS=600)
    r = make_round("deltagare_avslut", mode="kiosk")
    texts = load_fixture_translation(runner, tmp_path, "ar")
    context = context_with_voice(browser, ["sv-SE"], bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(f"{live_server}/k/{r.code}?sprak=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    assert page.locator("h1").inner_text() == texts["enkat.deltagare_avslut"]
    # the form's start is on the right; the scale is one column in the instrument's order
    box = page.locator("#fraga-1 legend").bounding_box()
    first, last = (page.locator("#fraga-1 .option").nth(i).bounding_box() for i in (0, 6))
    assert box["x"] + box["width"] > TABLET["width"] / 2
    assert first["y"] < last["y"]
    assert page.locator("button.listen:visible").count() == 0  # no Arabic voice here
    assert axe_violations(page) == []
    page.get_by_role("radio", name=texts["kon.man"]).check()
    page.locator("#fraga-1").get_by_text(texts["skala.frekvens.6"], exact=True).click()
    page.locator("#fraga-8").get_by_text(texts["skala.ja_nej.1"], exact=True).click()
    page.locator("#fraga-9").get_by_text(texts["skala.frekvens.4"], exact=True).click()
    page.get_by_role("button", name=texts["ui.send"]).click()
    page.get_by_role("heading", name=texts["ui.thanks_title"]).wait_for()
    before_seconds = texts["ui.restart_in"].split("{seconds}")[0]
    assert page.locator("#reset-info").inner_text().startswith(before_seconds)
    assert axe_violations(page) == []  # the right-to-left "Tack"
    # the kiosk goes back to the Swedish form for the next respondent
    # (documentElement is null for a moment while the kiosk replaces the page)
    wait_until(
        page,
        "!!document.documentElement && document.documentElement.lang === 'sv'"
        " && !!document.querySelector('form')",
    )
    assert page.url == f"{live_server}/k/{r.code}"
    assert page.locator("html").get_attribute("dir") == "ltr"

    page.get_by_role("radio", name="Man").check()
    page.locator("#fraga-1").get_by_text("Alltid", exact=True).click()
    page.locator("#fraga-8").get_by_text("Ja", exact=True).click()
    page.locator("#fraga-9").get_by_text("Ofta", exact=True).click()
    page.get_by_role("button", name="Skicka svaren").click()
    page.get_by_role("heading", name="Tack!").wait_for()
    page.goto(f"{live_server}/tack?sprak=ar")  # the open link's "Tack" page
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("h1").inner_text() == texts["ui.thanks_title"]
    assert axe_violations(page) == []
    context.close()

    answers = stored(app)
    assert len(answers) == 2
    assert answers[0] == answers[1]
    assert ("man", Q1, 6) in answers[0]
    with app.app_context():
        counts = db.session().execute(text("SELECT language, count FROM language_count")).all()
    assert counts == [("ar", 1)]


def test_lyssna_reads_the_exact_text_with_the_voice_or_plays_the_recording_offline(
    app,
    live_server,
    browser,
    runner,
    tmp_path,
    make_round,
):
    r = make_round("deltagare_avslut", mode="kiosk")
    with app.app_context():
        question = (
            db.session()
            .execute(text("SELECT text FROM question_version WHERE id = :id"), {"id": Q1})
            .scalar_one()
        )
    options = [
        "Alltid",
        "För det mesta",
        "Ofta",
        "Ibland",
        "Sällan",
        "Aldrig",
        "Vet ej / Ej aktuellt",
    ]

    # no voice for Swedish and no recording: no button
    context = context_with_voice(browser, ["en-US"])
    page = context.new_page()
    page.goto(f"{live_server}/k/{r.code}")
    page.get_by_role("button", name="Skicka svaren").wait_for()
    assert page.locator("button.listen:visible").count() == 0
    context.close()

    context = context_with_voice(browser, ["sv-SE", "en-US"], bypass_csp=True)  # axe
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server}/k/{r.code}")
    assert page.locator("button.listen:visible").count() == 9  # gender + 1–8 (9–10 after Ja)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Lyssna: fråga 1").click()
    wait_until(page, f"window.__spoken.length === {1 + len(options)}")
    spoken = page.evaluate("window.__spoken")
    assert [s["text"] for s in spoken] == [question, *options]
    assert {(s["lang"], s["voice"]) for s in spoken} == {("sv", "sv-SE")}
    assert [s["highlighted"] for s in spoken] == [question, *options]  # what is read is lit
    assert page.locator("#fraga-1 input:checked").count() == 0  # nothing answered by it
    context.close()

    # a recording for question 1: played instead of the voice, then the options are read
    app.config["INSTANCE_DIR"] = str(tmp_path / "instance")
    recording = tiny_wav(tmp_path / "q1.wav", frames=2400)
    assert runner.invoke(args=["audio", "load", str(recording), "--version", Q1]).exit_code == 0
    context = context_with_voice(browser, ["sv-SE"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server}/k/{r.code}")
    wait_until(
        page,
        "async () => !!(navigator.serviceWorker && navigator.serviceWorker.controller"
        f" && await caches.match(location.pathname) && await caches.match('/s/ljud/{Q1}'))",
    )
    for online in (True, False):
        context.set_offline(not online)
        page.reload()
        page.evaluate("window.__spoken = []; window.__played = []")
        page.get_by_role("button", name="Lyssna: fråga 1").click()
        wait_until(page, f"window.__spoken.length === {len(options)}")
        played = page.evaluate("window.__played")
        assert len(played) == 1, online
        assert played[0]["src"].endswith(f"/s/ljud/{Q1}"), online
        assert played[0]["ended"], online  # played to the end: not the voice's fallback
        assert not played[0]["error"], online
        assert [s["text"] for s in page.evaluate("window.__spoken")] == options, online
    context.close()


def assert_picker_names_render_in_shipped_fonts(page) -> None:
    """Every language name in Arabic or Ethiopic script (all of LANGUAGES, put in the
    picker) is drawn entirely with the app's own fonts: no boxes on a tablet without them."""
    names = [lang for lang in LANGUAGES.values() if lang.script]
    page.evaluate(
        """(names) => { const ul = document.querySelector(".languages ul");
            for (const [code, name] of names) { const li = document.createElement("li");
              li.innerHTML = `<a id="namn-${code}" lang="${code}">${name}</a>`;
              ul.append(li); } }""",
        [[lang.code, lang.name] for lang in names],
    )
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(300)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    for lang in names:
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": f"#namn-{lang.code}"})
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        families = {(f["familyName"], f["isCustomFont"]) for f in fonts}
        assert all(custom and family.startswith("Noto Sans") for family, custom in families), (
            lang.code,
            families,
        )
        assert sum(f["glyphCount"] for f in fonts) >= len(lang.name.replace(" ", "")), lang.code


def test_page_weights_fonts_only_where_a_script_needs_them(
    app,
    live_server,
    browser,
    runner,
    tmp_path,
    make_round,
):
    r = make_round("deltagare_avslut")
    load_fixture_translation(runner, tmp_path, "ar")
    load_fixture_translation(runner, tmp_path, "ti")
    figures = {}
    for name, query in (("svenska", ""), ("arabiska", "?sprak=ar"), ("tigrinska", "?sprak=ti")):
        context = browser.new_context(viewport=TABLET, service_workers="block")
        requests: list = []
        context.on("requestfinished", lambda request, seen=requests: seen.append(request))
        page = context.new_page()
        page.goto(f"{live_server}/s/{r.code}{query}")
        page.locator("button[type=submit]").wait_for()
        page.evaluate("document.fonts.ready")
        page.wait_for_timeout(300)
        figures[name] = transferred(requests)
        if name == "svenska":
            assert_picker_names_render_in_shipped_fonts(page)
        context.close()
    for name, (size, parts) in figures.items():
        print(f"{name}: {size} bytes ({', '.join(parts)})")
    swedish, arabic, tigrinya = (figures[n] for n in ("svenska", "arabiska", "tigrinska"))
    assert swedish[0] < 50_000
    # only the picker's few-kB name subsets, never a whole script's font
    assert sorted(p.split("=")[0] for p in swedish[1] if "woff2" in p) == [
        "noto-sans-arabic-names.woff2",
        "noto-sans-ethiopic-names.woff2",
    ]
    assert any(p.startswith("noto-sans-arabic-400.woff2") for p in arabic[1])
    assert any(p.startswith("noto-sans-ethiopic-400.woff2") for p in tigrinya[1])
    assert not any("ethiopic-400" in p or "ethiopic-600" in p for p in arabic[1])
    for _, parts in figures.values():  # every file comes once (preload and CSS agree)
        files = [p.split("?")[0].rsplit("=", 1)[0] for p in parts]
        assert len(files) == len(set(files)), parts


def test_a_kiosk_opened_once_in_arabic_starts_offline_with_its_fonts(
    app,
    live_server,
    browser,
    runner,
    tmp_path,
    make_round,
):
    r = make_round("deltagare_avslut", mode="kiosk")
    texts = load_fixture_translation(runner, tmp_path, "ar")
    context = context_with_voice(browser, ["sv-SE"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server}/k/{r.code}")  # the Swedish form, kept for the reset
    wait_for_sw(page)
    page.goto(f"{live_server}/k/{r.code}?sprak=ar")  # through the service worker now
    wait_until(
        page,
        "async () => !!(await caches.match(location.pathname + '?sprak=ar')"
        " && await caches.match('/static/fonts/noto-sans-arabic-400.woff2'))",
    )
    context.set_offline(True)
    page.reload()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("h1").inner_text() == texts["enkat.deltagare_avslut"]
    loaded = page.evaluate(
        """async () => { await document.fonts.ready;
            return [...document.fonts].filter(f => f.family.replace(/"/g, "") ===
                                             "Noto Sans Arabic" && f.status === "loaded").length;
          }"""
    )
    assert loaded >= 1  # the app's Arabic font, from the service worker's cache
    page.goto(f"{live_server}/k/{r.code}")  # offline, the Swedish form is there too
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.get_by_role("button", name="Skicka svaren").is_visible()
    context.close()
