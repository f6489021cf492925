// Self-service on the portal: help-center articles suggested while a ticket is written, the severity
// suggested from the answers so far, and the rating page's one-click send. Text only, never markup from a
// string (the suggestions' excerpts are parsed and only their text and <mark> elements are copied).
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function value(id) {
    var element = document.getElementById(id);
    return element ? element.value.trim() : "";
  }

  function checked(name) {
    var element = document.querySelector("input[name=" + name + "]:checked");
    return element ? element.value : "";
  }

  // --- articles suggested while filing --------------------------------------------------------------
  var panel = document.getElementById("article-suggestions");
  if (panel) {
    var list = document.getElementById("article-suggestions-list");
    var lastQuery = null, pending = null;

    var appendExcerpt = function (target, html) {
      // The server escapes the text and adds <mark> around matches: copy exactly those, as nodes.
      var parsed = new DOMParser().parseFromString("<p>" + html + "</p>", "text/html").body.firstChild;
      parsed.childNodes.forEach(function (node) {
        if (node.nodeType === Node.TEXT_NODE) target.appendChild(document.createTextNode(node.textContent));
        else if (node.nodeName === "MARK") {
          var mark = document.createElement("mark");
          mark.textContent = node.textContent;
          target.appendChild(mark);
        }
      });
    };

    var show = function (query, rows) {
      list.textContent = "";
      rows.forEach(function (row) {
        var item = document.createElement("li");
        item.className = "mb-2";
        var link = document.createElement("a");
        link.href = row.url + "?from=new-ticket&q=" + encodeURIComponent(query.slice(0, 200));
        link.target = "_blank";
        link.rel = "noopener";
        link.className = "fw-semibold";
        link.textContent = row.title;
        var hint = document.createElement("span");
        hint.className = "visually-hidden";
        hint.textContent = " (opens in a new tab)";
        link.appendChild(hint);
        item.appendChild(link);
        if (row.excerpt) {
          var excerpt = document.createElement("div");
          excerpt.className = "small text-muted";
          appendExcerpt(excerpt, row.excerpt);
          item.appendChild(excerpt);
        }
        list.appendChild(item);
      });
      panel.hidden = rows.length === 0;
    };

    var refresh = function () {
      var query = (value("id_subject") + " " + value("id_description")).trim().slice(0, 500);
      if (query === lastQuery) return;
      lastQuery = query;
      if (query.length < 3) { show(query, []); return; }
      if (pending) pending.abort();
      pending = new AbortController();
      fetch(panel.dataset.url + "?q=" + encodeURIComponent(query), {
        credentials: "same-origin", headers: { Accept: "application/json" }, signal: pending.signal
      })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) { show(query, rows); })
        .catch(function () {});
    };
    var later = debounce(refresh, 300);
    ["id_subject", "id_description"].forEach(function (id) {
      var field = document.getElementById(id);
      if (field) field.addEventListener("input", later);
    });
    refresh();
  }

  // --- the severity suggestion ------------------------------------------------------------------------
  var box = document.getElementById("severity-suggestion");
  if (box && box.closest("form")) {
    var form = box.closest("form");
    var suggested = null, asking = null, lastBody = null;
    var ask = function () {
      var body = {
        subject: value("id_subject"),
        description: value("id_description").slice(0, 20000),
        error_message: value("id_error_message"),
        product_area: value("id_product_area"),
        feature: value("id_feature"),
        reason: value("id_reason"),
        affected_role: checked("affected_role"),
        impact_scope: checked("impact_scope"),
        occurrence: checked("occurrence"),
        interview: {}
      };
      if (value("id_interview_starts_at")) body.interview.starts_at = value("id_interview_starts_at");
      if (value("id_interview_ends_at")) body.interview.ends_at = value("id_interview_ends_at");
      var text = JSON.stringify(body);
      if (text === lastBody) return;
      lastBody = text;
      if (asking) asking.abort();
      asking = new AbortController();
      fetch(box.dataset.url, {
        method: "POST", credentials: "same-origin", body: text, signal: asking.signal,
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() }
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer) return;  // an answer not yet valid (an unfinished date): keep the last one
          suggested = answer.severity;
          document.getElementById("severity-suggestion-label").textContent = answer.label;
          document.getElementById("severity-suggestion-reason").textContent = answer.reason;
          box.dataset.severity = answer.severity;
          box.hidden = false;
        })
        .catch(function () {});
    };
    var askLater = debounce(ask, 350);
    form.addEventListener("input", function (event) {
      if (event.target.name !== "severity") askLater();
    });
    form.addEventListener("change", function (event) {
      if (event.target.name !== "severity") askLater();
    });
    document.getElementById("severity-suggestion-use").addEventListener("click", function () {
      var radio = suggested && form.querySelector("input[name=severity][value=" + suggested + "]");
      if (radio) { radio.checked = true; radio.focus(); }
    });
    // A form shown again after an error has answers already: suggest at once; an empty one waits.
    if (value("id_subject") || value("id_description")) ask();
  }

  // --- the rating page: one click from the email sends the rating ---------------------------------------
  var rateForm = document.getElementById("rate-form");
  if (rateForm && rateForm.dataset.autosend === "yes") {
    var data = new FormData(rateForm);
    data.delete("comment");  // the link rates; a comment is sent with the button
    fetch(window.location.pathname, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() }
    })
      .then(function (r) { return r.json().then(function (json) { return { ok: r.ok, json: json }; }); })
      .then(function (result) {
        var status = document.getElementById("rate-status");
        if (result.ok) {
          rateForm.dataset.autosend = "no";
          var label = document.querySelector("label[for=rating-" + result.json.rating + "]");
          status.textContent = "Your rating: " + (label ? label.textContent : result.json.rating) +
            ". Thank you! You can add a comment below.";
        } else {
          status.textContent = Object.values(result.json).join(" ");
        }
      })
      .catch(function () {});
  }
})();
