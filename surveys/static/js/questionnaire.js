// Progressive enhancement only: the questionnaire works without this file.
// Shows questions 9-10 (exit questionnaire) as soon as 8 is answered "Ja",
// and clears them again if the answer changes, so nothing hidden is sent.
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire");
  if (!form) { return; }
  var conditional = form.querySelectorAll("fieldset[data-condition-question]");
  var marker = document.getElementById("conditional-shown");
  if (!conditional.length || !marker) { return; }
  marker.value = "1";

  function update() {
    conditional.forEach(function (fieldset) {
      var gate = form.querySelector('input[name="' + fieldset.dataset.conditionQuestion + '"]:checked');
      var show = gate !== null && gate.value === fieldset.dataset.conditionCode;
      fieldset.hidden = !show;
      if (!show) {
        fieldset.querySelectorAll("input").forEach(function (input) { input.checked = false; });
      }
    });
  }
  form.addEventListener("change", update);
  update();
})();
