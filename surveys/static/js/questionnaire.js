// Progressive enhancement only: the questionnaire works without this file.
// - questions 9-10 appear when 8 is "Ja" and are cleared again if 8 changes;
// - a small progress bar ("3 av 10 besvarade");
// - the form is sent in the background with its key; the answers wait in IndexedDB
//   until the server acknowledges them, and the queue drains by itself when online;
// - kiosk: "Är du kvar?" after a while without touch, a "Tack" that counts down and can
//   be extended, and a reset that leaves nothing of the respondent (DOM, history, form);
// - "Lyssna" (read-aloud); a page in another language (?sprak=) takes its texts from
//   data-texts, and a kiosk's reset always goes back to the Swedish form.
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire");
  var kioskThanks = document.getElementById("kiosk-thanks");
  var modern = !!(window.fetch && window.indexedDB && window.Promise && window.URLSearchParams);
  var DB = "enkat", STORE = "ko", META = "meta";
  var texts = {};
  try { texts = JSON.parse((form && form.dataset.texts) || "{}"); } catch (e) { texts = {}; }
  function tr(key, swedish) { return texts[key] || swedish; }
  var NET_MESSAGE = tr("ui.offline", "Svaren skickas så snart surfplattan har nät igen.");
  // The kiosk page as the server sent it, before this script changes it (attributes only:
  // what a respondent clicks is not in it). Kept for the service worker without a download.
  var pristine = form && form.dataset.kiosk && form.dataset.step === "1" &&
    "<!doctype html>\n" + document.documentElement.outerHTML;

  // --- the queue on the device (IndexedDB) -------------------------------------------
  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: "id" });
        req.result.createObjectStore(META);
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function store(name, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(name, mode), request = work(t.objectStore(name)), result;
        if (request) { request.onsuccess = function () { result = request.result; }; }
        t.oncomplete = function () { db.close(); resolve(result); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }
  function queued() { return store(STORE, "readonly", function (s) { return s.getAll(); }); }
  function keep(item) { return store(STORE, "readwrite", function (s) { return s.put(item); }); }
  function forget(item) { return store(STORE, "readwrite", function (s) { return s.delete(item.id); }); }

  function randomHex(bytes) {
    var a = new Uint8Array(bytes), out = "";
    (window.crypto || window.msCrypto).getRandomValues(a);
    for (var i = 0; i < a.length; i++) { out += (a[i] < 16 ? "0" : "") + a[i].toString(16); }
    return out;
  }

  // One attempt: "done" (stored, or already stored), "refused" (dropped; the server
  // counted it for staff) or "retry" (no network, server busy or down).
  function send(item, renewed) {
    // A request that hangs counts as no network after 15 s (the key makes a retry safe).
    var abort = window.AbortController ? new AbortController() : null;
    var limit = abort && setTimeout(function () { abort.abort(); }, 15000);
    return fetch(item.url, {
      method: "POST", body: new URLSearchParams(item.fields), credentials: "omit",
      cache: "no-store", headers: { "X-Background": "1" }, signal: abort ? abort.signal : undefined
    }).then(function (res) {
      clearTimeout(limit);
      if (res.status >= 500 || res.status === 408 || res.status === 429) { return "retry"; }
      return res.json().then(function (data) {
        if (res.ok && data.status === "stored") { return "done"; }
        if (res.ok && data.status === "renew" && !renewed) {
          // An old form gets a fresh key (derived from the old one) and is sent again.
          item.fields = item.fields.map(function (f) {
            return f[0] === "csrf_token" ? ["csrf_token", data.token] : f;
          });
          return keep(item).catch(function () {}).then(function () { return send(item, true); });
        }
        item.message = data.message;
        return "refused";
      }, function () { return res.ok ? "retry" : "refused"; });
    }, function () { return "retry"; });
  }

  // --- draining the queue, and telling staff how many answers wait ------------------------
  var draining = false, delay = 2000, timer = null, storageFull = false;
  function drain() {
    if (draining) { return Promise.resolve(); }
    draining = true;
    clearTimeout(timer);
    return queued().then(function (items) {
      var left = false;
      return items.reduce(function (previous, item) {
        return previous.then(function () {
          if (left) { return null; }
          return send(item).then(function (outcome) {
            if (outcome === "retry") { left = true; return null; }
            return forget(item);
          });
        });
      }, Promise.resolve()).then(function () { return left; });
    }).then(function (left) {
      draining = false;
      report();
      if (left) {
        timer = setTimeout(drain, delay);
        delay = Math.min(delay * 2, 60000);
      } else {
        delay = 2000;
      }
    }, function () { draining = false; });
  }

  // The server believes a queue report only when it is signed with a form token of the
  // round (the one of a form this tablet was given), and takes at most MAX_STEP per report.
  var MAX_STEP = 100;
  function tokenOf(fields) {
    for (var i = 0; i < fields.length; i++) { if (fields[i][0] === "csrf_token") { return fields[i][1]; } }
    return null;
  }
  function remember(url, token) {
    if (!url || !token) { return Promise.resolve(); }
    return store(META, "readonly", function (s) { return s.get("signed"); }).then(function (signed) {
      signed = signed || {};
      if (signed[url] === token) { return null; }
      signed[url] = token;
      return store(META, "readwrite", function (s) { return s.put(signed, "signed"); });
    }).catch(function () {});
  }

  function report() {
    // Per kiosk round: the change in this tablet's queue length since its last report.
    return queued().then(function (items) {
      var counts = {}, tokens = {};
      items.forEach(function (i) {
        if (i.report) { counts[i.report] = (counts[i.report] || 0) + 1; tokens[i.report] = tokenOf(i.fields); }
      });
      if (form && form.dataset.kiosk) { counts[form.dataset.kiosk + "/ko"] = counts[form.dataset.kiosk + "/ko"] || 0; }
      return Promise.all([
        store(META, "readonly", function (s) { return s.get("reported"); }),
        store(META, "readonly", function (s) { return s.get("signed"); })
      ]).then(function (meta) {
        var old = meta[0] || {}, signed = meta[1] || {};
        Object.keys(old).forEach(function (url) { if (!(url in counts)) { counts[url] = 0; } });
        return Promise.all(Object.keys(counts).map(function (url) {
          var now = Math.min(counts[url], MAX_STEP), before = Math.min(old[url] || 0, MAX_STEP);
          var token = signed[url] || tokens[url]; // the freshest: the form this page shows
          if ((now === before && !storageFull) || !token) { return null; }
          var body = new URLSearchParams({ waiting: now, reported: before, token: token,
            storage_full: storageFull ? "1" : "0" });
          return fetch(url, { method: "POST", body: body, credentials: "omit" }).then(function (res) {
            // 404/410: the round or the link is gone, or the round closed: nothing to tell
            if (res.ok || res.status === 404 || res.status === 410) { old[url] = now; storageFull = false; }
          }, function () {});
        })).then(function () {
          return store(META, "readwrite", function (s) { return s.put(old, "reported"); });
        });
      });
    }).catch(function () {});
  }

  // --- the form -------------------------------------------------------------------
  function setupForm() {
    var conditional = form.querySelectorAll("fieldset[data-condition-question]");
    var marker = document.getElementById("conditional-shown");
    var questions = form.querySelectorAll("fieldset.question[id^=fraga-]");
    var bar = null;
    if (marker) { marker.value = "1"; }
    if (questions.length) {
      bar = document.createElement("p");
      bar.className = "progress";
      bar.innerHTML = '<progress aria-label="Besvarade frågor" max="1" value="0"></progress><span></span>';
      form.appendChild(bar);
    }

    function update() {
      conditional.forEach(function (fieldset) {
        var gate = form.querySelector('input[name="' + fieldset.dataset.conditionQuestion + '"]:checked');
        var show = gate !== null && gate.value === fieldset.dataset.conditionCode;
        fieldset.hidden = !show;
        if (!show) {
          fieldset.querySelectorAll("input").forEach(function (input) { input.checked = false; });
        }
      });
      if (bar) {
        var shown = 0, answered = 0;
        questions.forEach(function (q) {
          if (q.hidden) { return; }
          shown += 1;
          if (q.querySelector("input:checked")) { answered += 1; }
        });
        bar.firstChild.max = shown;
        bar.firstChild.value = answered;
        bar.lastChild.textContent = tr("ui.progress", "{answered} av {shown} besvarade")
          .replace("{answered}", answered).replace("{shown}", shown);
      }
    }
    form.addEventListener("change", update);
    update();
    if (!modern || form.dataset.step !== "1") { return; }

    // A random key per page view: a form shown offline from the service worker's copy
    // shares its token with other copies; token and device key together are one form.
    if (!form.querySelector('input[name="device_key"]')) {
      var key = document.createElement("input");
      key.type = "hidden"; key.name = "device_key"; key.value = randomHex(8);
      form.appendChild(key);
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!form.querySelector('input[name^="q"]:checked') && !form.dataset.confirmed) {
        ask(tr("ui.empty", "Du har inte svarat på någon fråga. Vill du skicka ändå?"),
          [[tr("ui.send_anyway", "Skicka ändå"), function () { form.dataset.confirmed = "1"; submitInBackground(); }],
           [tr("ui.answer_questions", "Svara på frågorna"), function () {}]]);
        return;
      }
      submitInBackground();
    });
  }

  function fieldsOf() {
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || (el.type === "radio" && !el.checked)) { return; }
      fields.push([el.name, el.value]);
    });
    if (form.dataset.confirmed) { fields.push(["confirm_empty", "1"]); }
    return fields;
  }

  function submitInBackground() {
    var button = form.querySelector("button[type=submit]");
    var item = { id: randomHex(16), url: form.action, fields: fieldsOf(),
      report: form.dataset.kiosk ? form.dataset.kiosk + "/ko" : null };
    button.disabled = true;
    status(tr("ui.sending", "Skickar dina svar …"));
    form.dataset.sending = "1"; // no idle reset while answers exist only in this page
    var saved = keep(item).then(function () { return true; }, function () {
      storageFull = true; // told to staff, never to the respondent
      report();
      return false;
    });
    var attempt = 0, settled = false;
    function tryOnce() {
      return send(item).then(function (outcome) {
        if (outcome !== "retry") { return outcome; }
        attempt += 1;
        status(NET_MESSAGE);
        return saved.then(function (ok) {
          if (ok && attempt >= 2) { return "queued"; }
          return new Promise(function (resolve) {
            setTimeout(resolve, Math.min(1000 * Math.pow(2, attempt), 30000));
          }).then(tryOnce);
        });
      });
    }
    function settle(outcome) {
      if (settled) { return; }
      settled = true;
      if (outcome === "done") { thank(false); return; }
      if (outcome === "queued") { thank(true); timer = setTimeout(drain, delay); return; }
      // refused while the respondent is here: say so; nothing was stored
      button.disabled = false;
      delete form.dataset.sending;
      status(item.message || "Svaren kunde inte tas emot. Fråga personalen.");
    }
    // A network that hangs instead of failing: once the answers are safe on the device,
    // "Tack" after a few seconds; the queue finishes the job.
    saved.then(function (ok) { if (ok) { setTimeout(function () { settle("queued"); }, 6000); } });
    tryOnce().then(function (outcome) {
      if (outcome === "queued") { settle(outcome); return null; }
      // acknowledged or refused: the device forgets the answers, then the page says so
      return saved.then(function (ok) { return ok ? forget(item) : null; }).catch(function () {})
        .then(function () { settle(outcome); });
    });
  }

  function status(text) {
    var el = document.getElementById("skickar");
    if (!el) {
      el = document.createElement("p");
      el.id = "skickar"; el.className = "sending"; el.setAttribute("role", "status");
      form.querySelector(".actions").appendChild(el);
    }
    el.textContent = text;
  }

  // --- "Tack", dialogs and the kiosk reset -----------------------------------------------
  function thank(queuedOnDevice) {
    var kiosk = form.dataset.kiosk;
    if (!queuedOnDevice && !kiosk) { location.replace(form.dataset.thanks); return; }
    var main = document.querySelector("main");
    var where = kiosk ? "surfplattan" : "den här enheten";
    document.title = tr("ui.thanks_page", "Tack för dina svar");
    // The form (and with it every answer) leaves the DOM.
    main.innerHTML = '<section class="card message thanks" aria-labelledby="rubrik">' +
      '<h1 id="rubrik" tabindex="-1"></h1><p></p></section>';
    main.querySelector("h1").textContent = tr("ui.thanks_title", "Tack!");
    main.querySelector("p").textContent = queuedOnDevice
      ? "Dina svar är sparade på " + where + " och skickas så snart den har nät igen. " +
        "De hjälper oss att göra stödet bättre."
      : tr("ui.thanks_text", "Dina svar är sparade. De hjälper oss att göra stödet bättre.");
    if (!kiosk) {
      main.firstChild.insertAdjacentHTML("beforeend", "<p>Låt sidan vara öppen tills den har nät igen.</p>");
    } else {
      countdown(main.firstChild, kiosk, Number(form.dataset.thanksSeconds) || 15, false);
    }
    form = null;
    main.querySelector("h1").focus();
  }

  // A hint with a live number of seconds where the text has {seconds} (in any language).
  function secondsLine(id, text) {
    var p = document.createElement("p"), parts = text.split("{seconds}"), span = document.createElement("span");
    p.className = "hint";
    span.id = id;
    p.appendChild(document.createTextNode(parts[0]));
    p.appendChild(span);
    p.appendChild(document.createTextNode(parts.slice(1).join("")));
    return p;
  }

  // "Enkäten börjar om om N sekunder" with "Jag behöver mer tid" (WCAG 2.2.1).
  function countdown(section, again, seconds, serverPage) {
    var info = section.querySelector("#reset-info");
    if (!info) {
      info = secondsLine("sekunder",
        tr("ui.restart_in", "Enkäten börjar om för nästa person om {seconds} sekunder."));
      info.id = "reset-info";
      section.appendChild(info);
      section.insertAdjacentHTML("beforeend", '<p class="actions"></p>');
    }
    var actions = info.nextElementSibling;
    if (!serverPage) {
      actions.insertAdjacentHTML("beforeend", '<button type="button" class="primary" id="borja-om"></button>');
      actions.lastChild.textContent = tr("ui.restart_now", "Börja om nu");
    }
    actions.insertAdjacentHTML("beforeend", '<button type="button" id="mer-tid"></button>');
    actions.lastChild.textContent = tr("ui.more_time", "Jag behöver mer tid");
    var left = seconds, shown = section.querySelector("#sekunder");
    shown.textContent = left;
    var tick = setInterval(function () {
      left -= 1;
      shown.textContent = Math.max(left, 0);
      if (left <= 0) { clearInterval(tick); reset(again); }
    }, 1000);
    section.querySelector("#mer-tid").addEventListener("click", function () {
      left += 60;
      shown.textContent = left;
    });
    section.querySelector("#borja-om").addEventListener("click", function (event) {
      event.preventDefault();
      clearInterval(tick);
      reset(again);
    });
  }

  function reset(url) {
    // location.replace: the previous page leaves history, and a new document has no
    // form state. Offline without a service worker, clear this page instead.
    if (form) { form.reset(); }
    var sw = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (navigator.onLine || sw) { location.replace(url); } else { location.reload(); }
  }

  function ask(text, choices) {
    var overlay = document.createElement("div");
    overlay.className = "overlay";
    overlay.innerHTML = '<div class="card" role="alertdialog" aria-modal="true" ' +
      'aria-labelledby="fragan"><p id="fragan"></p></div>';
    overlay.querySelector("#fragan").textContent = text;
    var card = overlay.firstChild;
    choices.forEach(function (choice, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = i === 0 ? "primary" : "";
      b.textContent = choice[0];
      b.addEventListener("click", function () { overlay.remove(); choice[1](); });
      card.appendChild(b);
    });
    document.body.appendChild(overlay);
    card.querySelector("button").focus();
    return overlay;
  }

  // After a while without touch or key: "Är du kvar?" with a visible countdown.
  function watchIdle() {
    var idle = Number(form.dataset.idle) * 1000, last = Date.now(), asking = null;
    ["pointerdown", "keydown", "touchstart", "input", "change", "scroll"].forEach(function (name) {
      window.addEventListener(name, function () { if (!asking) { last = Date.now(); } },
        { passive: true, capture: true });
    });
    setInterval(function () {
      if (!form || asking || form.dataset.sending || Date.now() - last < idle) { return; }
      if (!form.querySelector("input:checked")) { last = Date.now(); return; }
      var left = Number(form.dataset.countdown) || 30;
      asking = ask(tr("ui.still_there", "Är du kvar?"), [[tr("ui.yes_still_there", "Ja, jag är kvar"), function () {
        clearInterval(tick); asking = null; last = Date.now();
      }]]);
      var card = asking.firstChild;
      card.appendChild(secondsLine("kvar-sekunder", tr("ui.otherwise_restart",
        "Annars börjar enkäten om för nästa person om {seconds} sekunder.")));
      card.appendChild(card.querySelector("button"));
      var shown = card.querySelector("#kvar-sekunder");
      shown.textContent = left;
      var tick = setInterval(function () {
        left -= 1;
        shown.textContent = Math.max(left, 0);
        if (left <= 0) { clearInterval(tick); reset(form.dataset.kiosk); }
      }, 1000);
    }, 1000);
  }

  // Back/forward cache: a page restored from memory starts afresh.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    if (form) { form.reset(); }
    var kiosk = (form && form.dataset.kiosk) || (kioskThanks && kioskThanks.dataset.again);
    if (kiosk) { location.replace(kiosk); }
  });

  // --- "Lyssna": the question, then its options, as shown, in the voice for the page's
  // language (the part read is lit), or the version's recording first. Hidden without
  // either; nothing starts by itself, focus never moves (keyboards, screen readers).
  function setupListen() {
    var buttons = document.querySelectorAll("button.listen"), synth = window.speechSynthesis;
    var lang = document.documentElement.lang, stop = null;
    function voice() {
      var all = (synth && window.SpeechSynthesisUtterance && synth.getVoices()) || [];
      return all.filter(function (v) { return v.lang.toLowerCase().split(/[-_]/)[0] === lang; })[0];
    }
    function show() {
      var found = !!voice();
      buttons.forEach(function (b) { b.hidden = !(found || b.dataset.audio); });
    }
    function mark(el, on) { el.classList.toggle("reading", on); }
    function speak(parts, done) {
      var v = voice(), i = 0, over = false;
      function next() {
        if (over) { return; }
        if (!v || i >= parts.length) { done(); return; }
        var el = parts[i++], u = new window.SpeechSynthesisUtterance(el.textContent.trim());
        u.lang = lang; u.voice = v;
        u.onend = u.onerror = function () { mark(el, false); next(); };
        mark(el, true);
        synth.speak(u);
      }
      next();
      return function () { over = true; parts.forEach(function (el) { mark(el, false); }); synth.cancel(); };
    }
    function play(url, parts, done) {
      var audio = new Audio(url), rest = null;
      function then(left) { // after the recording (or without one: all by voice)
        if (rest) { return; }
        mark(parts[0], false);
        rest = speak(left, done);
      }
      mark(parts[0], true);
      audio.onended = function () { then(parts.slice(1)); };
      audio.onerror = function () { then(parts); };
      (audio.play() || Promise.resolve()).catch(function () { then(parts); });
      return function () { audio.pause(); then([]); rest(); };
    }
    show();
    if (synth && synth.addEventListener) { synth.addEventListener("voiceschanged", show); }
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var again = button.getAttribute("aria-pressed");
        if (stop) { stop(); }
        buttons.forEach(function (b) { b.removeAttribute("aria-pressed"); });
        if (again) { return; } // a second press stops
        var parts = [].slice.call(button.parentNode.querySelectorAll("legend .read, .option span"));
        function done() { button.removeAttribute("aria-pressed"); stop = null; }
        button.setAttribute("aria-pressed", "true");
        stop = button.dataset.audio ? play(button.dataset.audio, parts, done) : speak(parts, done);
      });
    });
    window.addEventListener("pagehide", function () { if (stop) { stop(); } });
  }

  if (form) {
    setupListen();
    if (modern && form.dataset.kiosk) {
      remember(form.dataset.kiosk + "/ko", form.querySelector('input[name="csrf_token"]').value);
    }
    setupForm();
    if (form.dataset.kiosk && form.dataset.step === "1") { watchIdle(); }
  }
  if (kioskThanks) {
    countdown(kioskThanks, kioskThanks.dataset.again, Number(kioskThanks.dataset.seconds) || 15, true);
  }
  if (modern) {
    window.addEventListener("online", function () { delay = 2000; drain(); });
    drain();
    if (pristine && navigator.serviceWorker && window.caches) {
      // Enrolled tablets (/surfplatta/<token>) get the same worker with their own scope.
      var scope = location.pathname.indexOf("/surfplatta/") === 0 ? "/surfplatta/" : "/k/";
      navigator.serviceWorker.register(scope + "sw.js", { scope: scope }).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function () {
        // This first page and its files came before the service worker: keep a copy now
        // (a fresh, empty form; later loads are kept by the service worker itself).
        // Fonts of a page in another script and recordings too, for a tablet offline.
        var urls = [];
        document.querySelectorAll("link[rel=stylesheet], link[rel=preload], script[src]").forEach(function (el) {
          urls.push(el.href || el.src);
        });
        document.querySelectorAll("[data-audio]").forEach(function (el) { urls.push(el.dataset.audio); });
        var language = form.querySelector('input[name="sprak"]');
        var key = location.pathname + (language ? "?sprak=" + encodeURIComponent(language.value) : "");
        return caches.open("kiosk-v1").then(function (cache) {
          var page = new Response(pristine, { headers: { "Content-Type": "text/html; charset=utf-8" } });
          return Promise.all([cache.put(key, page), cache.addAll(urls)]);
        });
      }).catch(function () {});
    }
  }
})();
