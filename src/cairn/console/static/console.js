/* Cairn console: small hand-written helpers. Pages work without it where they can. */
"use strict";
window.Cairn = (function () {
  var down = false;
  function banner(show) {
    var el = document.getElementById("agent-down");
    if (el) { el.hidden = !show; }
    down = show;
  }
  /* Follow an SSE stream; EventSource reconnects by itself (retry sent by the server). */
  function follow(url, handlers) {
    var source = new EventSource(url);
    source.onopen = function () { banner(false); };
    source.onerror = function () { if (source.readyState !== EventSource.CLOSED) { banner(true); } };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) {
        banner(false);
        handlers[name](JSON.parse(event.data), source);
      });
    });
    return source;
  }
  function csrf() { return document.body.getAttribute("data-csrf") || ""; }
  document.addEventListener("DOMContentLoaded", function () {
    if (csrf()) { follow("/events/status", { status: function () {} }); }
  });
  return { follow: follow, csrf: csrf, banner: banner, isDown: function () { return down; } };
})();
