// The inbox's keyboard: on a focused row, Enter or «a» saves the label shown (the model's suggestion
// unless changed), «d» discards, j/k (or the arrows) move between rows. Selecting words of a
// message fills the row's first empty entity box. No inline script: the CSP allows only /static.
(function () {
  "use strict";
  var TYPING = ["INPUT", "SELECT", "TEXTAREA", "BUTTON", "SUMMARY"];

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.inbox-row[data-labelled='false']"));
  }

  function move(from, step) {
    var all = rows();
    var index = all.indexOf(from);
    var next = all[index + step] || (index < 0 ? all[0] : null);
    if (next) { next.focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var row = event.target.closest ? event.target.closest("tr.inbox-row") : null;
    if (!row || TYPING.indexOf(event.target.tagName) >= 0) { return; }
    var key = event.key;
    var button = null;
    if (key === "Enter" || key === "a") { button = row.querySelector("button.label-save"); }
    else if (key === "d") { button = row.querySelector("button.label-discard"); }
    else if (key === "j" || key === "ArrowDown") { event.preventDefault(); move(row, 1); return; }
    else if (key === "k" || key === "ArrowUp") { event.preventDefault(); move(row, -1); return; }
    if (button) { event.preventDefault(); button.click(); }
  });

  // After htmx swaps a labelled row in, keep going: focus the next row still waiting.
  document.addEventListener("htmx:afterSwap", function (event) {
    var row = event.detail && event.detail.elt;
    var swapped = row && row.id ? document.getElementById(row.id) : null;
    if (swapped && swapped.getAttribute("data-labelled") === "true") {
      var all = rows();
      var after = all.filter(function (r) {
        return swapped.compareDocumentPosition(r) & Node.DOCUMENT_POSITION_FOLLOWING;
      });
      if (after.length) { after[0].focus(); }
    }
  });

  document.addEventListener("mouseup", function (event) {
    var text = event.target.closest ? event.target.closest("tr.inbox-row .inbox-text") : null;
    if (!text) { return; }
    var chosen = String(window.getSelection() || "").trim();
    if (!chosen) { return; }
    var row = text.closest("tr.inbox-row");
    var details = row.querySelector("details.inbox-entities");
    var boxes = row.querySelectorAll("input.entity-value");
    for (var i = 0; i < boxes.length; i++) {
      if (!boxes[i].value) {
        boxes[i].value = chosen;
        if (details) { details.open = true; }
        var name = boxes[i].parentNode.querySelector("select.entity-name");
        if (name) { name.focus(); }
        return;
      }
    }
  });
})();
