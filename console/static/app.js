// Small behaviours the pages need without inline scripts (the CSP forbids them).
"use strict";
// A button with data-confirm="…" asks before its form is sent.
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
// Session expired during an htmx request: go to the log-in page the server named.
document.addEventListener("htmx:responseError", function (event) {
  const xhr = event.detail.xhr;
  const target = xhr && xhr.getResponseHeader("HX-Redirect");
  if (xhr && xhr.status === 401 && target) {
    window.location.assign(target);
  }
});
