// Canned replies on the ticket page: choosing one fills the message (rendered for this ticket by the
// server), ticks "internal note" when the macro is one, and selects the macro's status.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("macro-texts");
    var select = document.getElementById("id_macro");
    if (!data || !select) return;
    var macros = JSON.parse(data.textContent);
    select.addEventListener("change", function () {
      var macro = macros[select.value];
      if (!macro) return;
      document.getElementById("id_body").value = macro.body;
      document.getElementById("id_kind").value = macro.internal ? "note" : "reply";
      document.getElementById("id_then_status").value = macro.status || "";
      document.getElementById("id_body").focus();
    });
  });
})();
