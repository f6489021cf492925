/* The article editor's live preview: the Markdown of the body field rendered and sanitised by the server
   (the preview endpoint runs the same code as saving), shown under the field as customers will see it.
   The server's output is sanitised HTML (nh3), so it is shown as HTML. */
(function () {
  "use strict";
  function start() {
    var body = document.getElementById("id_body");
    if (!body) return;
    var url = window.location.pathname.replace(/(add|\d+\/change)\/$/, "preview/");
    var box = document.createElement("div");
    box.className = "hd-article-preview";
    box.id = "article-preview";
    box.setAttribute("aria-live", "polite");
    var heading = document.createElement("h3");
    heading.textContent = "Preview";
    var content = document.createElement("div");
    content.className = "hd-article-preview-body";
    box.appendChild(heading);
    box.appendChild(content);
    body.parentNode.appendChild(box);
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    var timer = null, last = null;
    function refresh() {
      if (body.value === last) return;
      last = body.value;
      var data = new FormData();
      data.append("body", body.value);
      fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": token ? token.value : "" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (json) { if (json) content.innerHTML = json.html; })
        .catch(function () {});
    }
    body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
    refresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
