// Form helpers shared by the portal and the agent console.
//
// - A counter under every text field with a maximum length of 100 or more (a subject's 200): "182 / 200",
//   red at the limit, so that nothing is cut silently (the browser stops typing and cuts a paste at
//   `maxlength` without a word).
// - Files are checked when chosen, against the limits the server announces on the input (data-max-bytes,
//   data-max-files, data-accept-extensions): a file that would be refused is named at once.
// - A form carrying chosen files is checked in the browser before it is sent (required fields, email
//   addresses, lengths, the files), even where the form is `novalidate` for the server's own messages:
//   a page that comes back with an error cannot give the chosen files back (browsers forbid it), so the
//   mistakes that would send it back are caught while the files are still chosen.
(function () {
  "use strict";

  function counter(field) {
    var max = parseInt(field.getAttribute("maxlength"), 10);
    // A search box's length is no message to the reader (the console header's global search).
    if (!(max >= 100) || field.dataset.counted || field.type === "search") return;
    field.dataset.counted = "1";
    var note = document.createElement("span");
    note.className = "hd-counter";
    note.id = (field.id || field.name) + "-counter";
    note.setAttribute("aria-live", "polite");
    var described = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", (described ? described + " " : "") + note.id);
    field.insertAdjacentElement("afterend", note);
    function update() {
      var used = field.value.length;
      note.textContent = used + " / " + max + (used >= max ? " — the limit: shorten it to add more" : "");
      note.classList.toggle("is-full", used >= max);
    }
    field.addEventListener("input", update);
    update();
  }

  function extension(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot).toLowerCase() : "";
  }

  function checkFiles(field) {
    var maxBytes = parseInt(field.dataset.maxBytes, 10);
    var maxFiles = parseInt(field.dataset.maxFiles, 10);
    var accepted = (field.dataset.acceptExtensions || "").split(" ").filter(Boolean);
    var problem = "";
    if (maxFiles && field.files.length > maxFiles) problem = "Attach at most " + maxFiles + " files at a time.";
    Array.prototype.forEach.call(field.files, function (file) {
      if (problem) return;
      if (maxBytes && file.size > maxBytes) {
        problem = "“" + file.name + "” is larger than the " + Math.round(maxBytes / 1048576 * 10) / 10 +
          " MB limit for attachments.";
      } else if (accepted.length && accepted.indexOf(extension(file.name)) === -1 &&
                 !(extension(file.name) === "" && field.dataset.acceptBare === "true")) {
        problem = "“" + file.name + "” is not a kind of file we accept. " + (field.dataset.acceptSummary || "");
      } else if (file.size === 0) {
        problem = "“" + file.name + "” is empty.";
      }
    });
    field.setCustomValidity(problem);
    var shown = field.form && field.form.querySelector(".hd-file-problem");
    // The form's message line (the console's reply box has one): a file problem is written there, and
    // cleared once put right; a message of another check is left alone.
    if (shown && (problem || shown.dataset.source === "files")) {
      shown.textContent = problem;
      shown.hidden = !problem;
      shown.dataset.source = problem ? "files" : "";
    }
    return problem;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[maxlength], textarea[maxlength]").forEach(counter);

    document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (field) {
      field.addEventListener("change", function () {
        if (checkFiles(field)) field.reportValidity();
      });
    });

    document.querySelectorAll("form").forEach(function (form) {
      var files = form.querySelectorAll("input[type=file]");
      if (!files.length) return;
      form.addEventListener("submit", function (event) {
        var chosen = Array.prototype.some.call(files, function (f) { return f.files && f.files.length; });
        if (!chosen) return;
        files.forEach(function (f) { if (f.dataset.maxBytes) checkFiles(f); });
        if (!form.checkValidity()) {
          event.preventDefault();
          event.stopImmediatePropagation();
          form.reportValidity();
        }
      });
    });
  });
})();
