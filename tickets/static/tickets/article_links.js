/* "Insert article link" for the ticket page's reply box: a button beside the message field opens a small
   search of the help center's public articles (/admin/tickets/article/links/?q=) and inserts the chosen
   article's title and address at the cursor. Self-contained: it finds the reply form's `body` field and
   adds its own elements; nothing else on the page depends on it. */
(function () {
  "use strict";
  var LINKS_URL = "/admin/tickets/article/links/";

  function start() {
    var field = document.querySelector("#reply textarea[name=body], textarea[data-article-links]");
    if (!field || field.dataset.articleLinksReady) return;
    field.dataset.articleLinksReady = "1";

    var wrap = document.createElement("div");
    wrap.className = "hd-article-links";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.id = "insert-article-link";
    button.textContent = "Insert article link";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "article-link-picker");
    var picker = document.createElement("div");
    picker.id = "article-link-picker";
    picker.hidden = true;
    var label = document.createElement("label");
    label.htmlFor = "article-link-search";
    label.textContent = "Search the help center";
    var search = document.createElement("input");
    search.type = "search";
    search.id = "article-link-search";
    search.maxLength = 200;
    var results = document.createElement("ul");
    results.id = "article-link-results";
    picker.appendChild(label);
    picker.appendChild(search);
    picker.appendChild(results);
    wrap.appendChild(button);
    wrap.appendChild(picker);
    field.parentNode.insertBefore(wrap, field.nextSibling);

    function insert(article) {
      var text = article.title + ": " + article.url;
      var start = field.selectionStart || 0, end = field.selectionEnd || 0;
      var before = field.value.slice(0, start), after = field.value.slice(end);
      var lead = before && !/\s$/.test(before) ? "\n" : "";
      field.value = before + lead + text + after;
      var caret = (before + lead + text).length;
      field.focus();
      field.setSelectionRange(caret, caret);
      field.dispatchEvent(new Event("input", { bubbles: true }));
      picker.hidden = true;
      button.setAttribute("aria-expanded", "false");
    }

    var timer = null, asking = null;
    function find() {
      if (asking) asking.abort();
      asking = new AbortController();
      fetch(LINKS_URL + "?q=" + encodeURIComponent(search.value.slice(0, 200)), {
        credentials: "same-origin", headers: { Accept: "application/json" }, signal: asking.signal
      })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (json) {
          results.textContent = "";
          json.results.forEach(function (article) {
            var item = document.createElement("li");
            var choose = document.createElement("button");
            choose.type = "button";
            choose.className = "hd-article-link-choice";
            choose.textContent = article.title;
            choose.addEventListener("click", function () { insert(article); });
            item.appendChild(choose);
            results.appendChild(item);
          });
          if (!json.results.length) {
            var none = document.createElement("li");
            none.textContent = "No public article matches.";
            results.appendChild(none);
          }
        })
        .catch(function () {});
    }
    button.addEventListener("click", function () {
      picker.hidden = !picker.hidden;
      button.setAttribute("aria-expanded", String(!picker.hidden));
      if (!picker.hidden) { search.focus(); find(); }
    });
    search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(find, 250); });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); find(); }
      if (event.key === "Escape") { picker.hidden = true; button.setAttribute("aria-expanded", "false"); button.focus(); }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
