// protostar console: the only script besides htmx and its SSE extension.
// It sends the session's CSRF token (from <meta name="csrf-token">) with
// every htmx request, shows failed htmx requests as an alert and asks
// before a form marked data-confirm is sent.
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
  });
  function alertText(text) {
    var box = document.getElementById("alerts");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "alert";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
  }
  // A form with data-confirm (delete) asks first.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    alertText(xhr.status + ": " + (xhr.responseText || xhr.statusText));
  });
  document.addEventListener("htmx:sendError", function () {
    alertText("The server cannot be reached; retrying when it is back.");
  });
})();
