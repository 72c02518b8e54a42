// The kiosk's service worker (served as /k/sw.js with scope /k/, and as /surfplatta/sw.js
// with scope /surfplatta/ for enrolled tablets). A tablet that opened its
// kiosk once can show a fresh, empty form while offline: the last form page (no answers
// in it, ever; one per language, ?sprak=), the static files (fonts included) and the
// read-aloud recordings (/s/ljud/) are kept; everything else goes to the network.
// Answers never pass through here: questionnaire.js keeps them in IndexedDB.
"use strict";
var CACHE = "kiosk-v1";
var KIOSK_PAGE = /^\/(k|surfplatta)\/[^/]+$/;
var RECORDING = /^\/s\/ljud\/[^/]+$/;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  var page = request.mode === "navigate" && KIOSK_PAGE.test(url.pathname);
  var recording = RECORDING.test(url.pathname);
  if (!page && !recording && url.pathname.indexOf("/static/") !== 0) { return; }
  var language = page && url.searchParams.get("sprak");
  var key = page ? url.origin + url.pathname + (language ? "?sprak=" + encodeURIComponent(language) : "")
    : recording ? url.origin + url.pathname : request.url;
  // A recording is fetched whole (a media element asks for byte ranges; a 206 cannot be kept).
  var upstream = recording ? fetch(key, { credentials: "omit" }) : fetch(request);
  event.respondWith(upstream.then(function (response) {
    if (response.status === 200 && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(key).then(function (hit) { return hit || Response.error(); });
  }));
});
