// Small behaviours the pages need without inline scripts (the CSP forbids them).
"use strict";
// A button with data-confirm="…" asks before its form is sent.
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
// An htmx request refused: a 401 goes to the log-in page the server named; anything else shows
// the server's Persian explanation ({"detail": "…"}) above the page instead of failing silently.
document.addEventListener("htmx:responseError", function (event) {
  const xhr = event.detail.xhr;
  if (!xhr) {
    return;
  }
  const target = xhr.getResponseHeader("HX-Redirect");
  if (xhr.status === 401 && target) {
    window.location.assign(target);
    return;
  }
  const box = document.getElementById("request-error");
  if (!box) {
    return;
  }
  let message = "";
  try {
    message = JSON.parse(xhr.responseText).detail || "";
  } catch (ignored) {
    message = "";
  }
  box.textContent = typeof message === "string" && message ? message : box.dataset.fallback || "";
  box.hidden = !box.textContent;
});
// A successful htmx request clears an earlier error.
document.addEventListener("htmx:afterRequest", function (event) {
  const box = document.getElementById("request-error");
  if (box && event.detail.successful) {
    box.hidden = true;
  }
});
