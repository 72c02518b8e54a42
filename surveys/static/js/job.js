// A background job's page (publishing, preview): asks the server again every two
// seconds and moves on when the job is done. Instead of <meta http-equiv="refresh">,
// which reloads under a screen reader's feet (WCAG 2.2.1); without JavaScript the page
// has an "Uppdatera nu" link.
(function () {
  "use strict";
  var marker = "data-job-running";
  if (!document.querySelector("[" + marker + "]")) {
    return;
  }
  function check() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected) {
          window.location.assign(response.url); // done: the page it leads to
          return null;
        }
        return response.text();
      })
      .then(function (text) {
        if (text === null) {
          return;
        }
        if (text.indexOf(marker) === -1) {
          window.location.reload(); // finished here (done or failed): show the result
          return;
        }
        window.setTimeout(check, 2000);
      })
      .catch(function () {
        window.setTimeout(check, 2000); // the server was busy or restarting: ask again
      });
  }
  window.setTimeout(check, 2000);
})();
