// The reply box's picker (ticket page): type to filter the canned replies, ↑/↓ to move, Enter to insert,
// Esc to close; "/" anywhere on the page jumps to it. Choosing a canned reply fills the message (rendered
// for this ticket by the server), switches to internal note when the reply is one, and selects its status.
//
// Other kinds of insertions (help-centre article links, for instance) plug in as sources:
//   window.HelpdeskReplyBox.addSource({
//     label: "Articles",                        // shown before each of its items
//     search: function (query) { return Promise.resolve([{ id, name, detail }]) },
//     choose: function (item, box) { ... }      // box: { insert(text), textarea }
//   });
// A source may fetch from a URL (its `search` returns the fetch's promise); the picker shows what each
// source answers for the text typed, canned replies first.
(function () {
  "use strict";

  var sources = [];
  window.HelpdeskReplyBox = {
    addSource: function (source) { sources.push(source); },
  };

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("macro-texts");
    var input = document.getElementById("canned-search");
    var list = document.getElementById("canned-list");
    var hidden = document.getElementById("id_macro");
    var body = document.getElementById("id_body");
    var picked = document.getElementById("canned-picked");
    if (!input || !list || !body) return;
    var macros = data ? JSON.parse(data.textContent) : [];

    var box = {
      textarea: body,
      insert: function (text) {
        var start = body.selectionStart || 0, end = body.selectionEnd || 0;
        body.value = body.value.slice(0, start) + text + body.value.slice(end);
        body.focus();
        body.selectionStart = body.selectionEnd = start + text.length;
        body.dispatchEvent(new Event("input", { bubbles: true }));
      },
    };

    sources.unshift({
      label: "",
      search: function (query) {
        // Every word typed must appear in the name or the text; matches in the name come first.
        var words = query.toLowerCase().split(/\s+/).filter(Boolean);
        function has(text) { return words.every(function (word) { return text.indexOf(word) !== -1; }); }
        var byName = [], byText = [];
        macros.forEach(function (macro) {
          if (has(macro.name.toLowerCase())) byName.push(macro);
          else if (has((macro.name + " " + macro.body).toLowerCase())) byText.push(macro);
        });
        return Promise.resolve(byName.concat(byText).map(function (macro) {
          var status = macro.status ? " · then " + statusLabel(macro.status) : "";
          return { id: macro.id, name: macro.name, detail: (macro.internal ? "Internal note" : "Public reply") + status +
            (macro.shared ? "" : " · yours"), macro: macro };
        }));
      },
      choose: function (item) { applyMacro(item.macro); },
    });

    function statusLabel(value) {
      var option = document.querySelector('#id_then_status option[value="' + value + '"]');
      return option ? option.textContent.toLowerCase() : value;
    }

    function applyMacro(macro) {
      hidden.value = macro.id;
      body.value = macro.body;
      var kind = document.querySelector('#reply input[name=kind][value="' + (macro.internal ? "note" : "reply") + '"]');
      if (kind) { kind.checked = true; kind.dispatchEvent(new Event("change", { bubbles: true })); }
      var then = document.getElementById("id_then_status");
      if (then) then.value = macro.status || "";
      picked.textContent = "Canned reply “" + macro.name + "” inserted" +
        (macro.status ? "; it sets the status to " + statusLabel(macro.status) : "") + ". Edit it before sending if you like.";
      picked.hidden = false;
      body.focus();
      body.selectionStart = body.selectionEnd = 0;
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }

    var items = [], active = -1, serial = 0;

    function render() {
      list.replaceChildren();
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "hd-picker-empty";
        none.setAttribute("role", "option");
        none.setAttribute("aria-disabled", "true");
        none.textContent = macros.length ? "No canned reply matches." : "No canned replies yet.";
        list.appendChild(none);
      }
      items.forEach(function (entry, index) {
        var option = document.createElement("li");
        option.id = "canned-option-" + index;
        option.dataset.itemId = entry.item.id;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", index === active ? "true" : "false");
        option.textContent = (entry.source.label ? entry.source.label + ": " : "") + entry.item.name;
        var detail = document.createElement("small");
        detail.textContent = entry.item.detail || "";
        option.appendChild(detail);
        option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
        list.appendChild(option);
      });
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", "canned-option-" + active);
        var current = document.getElementById("canned-option-" + active);
        if (current) current.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function open() {
      var query = input.value.trim(), mine = ++serial;
      Promise.all(sources.map(function (source) {
        return Promise.resolve(source.search(query)).then(function (found) {
          return (found || []).map(function (item) { return { source: source, item: item }; });
        }, function () { return []; });
      })).then(function (groups) {
        if (mine !== serial) return;  // an older answer arriving late
        items = [].concat.apply([], groups);
        active = items.length ? 0 : -1;
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        render();
      });
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function choose(index) {
      var entry = items[index];
      if (!entry) return;
      close();
      input.value = "";
      entry.source.choose(entry.item, box);
    }

    input.addEventListener("input", open);
    input.addEventListener("focus", open);
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { open(); return; }
        if (!items.length) return;
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        render();
      } else if (event.key === "Enter") {
        event.preventDefault();  // never submits the reply from the search field
        if (!list.hidden && active >= 0) choose(active);
      } else if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); event.stopPropagation(); close(); }
      }
    });
    // Switching between reply and note by hand after picking a canned reply: what is sent is then the
    // agent's own message of that kind (with the status chosen below), no longer the canned reply.
    document.querySelectorAll("#reply input[name=kind]").forEach(function (radio) {
      radio.addEventListener("change", function (event) {
        if (!event.isTrusted || !hidden.value) return;
        var macro = macros.filter(function (m) { return m.id === hidden.value; })[0];
        if (macro && (radio.value === "note") !== macro.internal) {
          hidden.value = "";
          picked.textContent = "Sent as your own " + (radio.value === "note" ? "internal note" : "public reply") + ".";
        }
      });
    });
  });
})();
