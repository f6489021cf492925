/* The article editor's live preview: the Markdown of the body field rendered and sanitised by the server
   (the preview endpoint runs the same code as saving), shown under the field as customers will see it.
   The answer is parsed (DOMParser runs nothing) and rebuilt here element by element from the same
   allowlist as the server's sanitiser: no markup string is ever written into the page. */
(function () {
  "use strict";
  var TAGS = ["P", "BR", "HR", "H2", "H3", "H4", "H5", "H6", "BLOCKQUOTE", "PRE", "CODE", "EM", "STRONG", "DEL",
    "UL", "OL", "LI", "A", "IMG", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD"];
  var ATTRIBUTES = { A: ["href", "title"], IMG: ["src", "alt", "title"], OL: ["start"] };
  var SAFE_URL = /^(https?:|mailto:|\/|#|[^:]*$)/i;

  function copy(source, target) {
    source.childNodes.forEach(function (node) {
      if (node.nodeType === Node.TEXT_NODE) {
        target.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (TAGS.indexOf(node.nodeName) === -1) { copy(node, target); return; }
        var element = document.createElement(node.nodeName.toLowerCase());
        (ATTRIBUTES[node.nodeName] || []).forEach(function (name) {
          var value = node.getAttribute(name);
          if (value === null) return;
          if ((name === "href" || name === "src") && !SAFE_URL.test(value.trim())) return;
          element.setAttribute(name, value);
        });
        copy(node, element);
        target.appendChild(element);
      }
    });
  }
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
        .then(function (json) {
          if (!json) return;
          var parsed = new DOMParser().parseFromString(json.html, "text/html");
          content.textContent = "";
          copy(parsed.body, content);
        })
        .catch(function () {});
    }
    body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
    refresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
