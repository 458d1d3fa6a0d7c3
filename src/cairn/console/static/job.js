/* A job's page: live progress from /jobs/{id}/events; at the end, the page reloads to show the
   job's warnings and result. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var panel = document.getElementById("progress");
  if (!panel || panel.getAttribute("data-done") === "yes") { return; }
  var id = panel.getAttribute("data-job");
  function set(name, text) {
    var el = document.getElementById("p-" + name);
    if (el) { el.textContent = text; }
  }
  Cairn.follow("/jobs/" + id + "/events", {
    job: function (v, source) {
      ["phase", "files", "bytes", "stored", "rate", "eta", "limit"].forEach(function (k) { set(k, v[k]); });
      set("warnings", String(v.warnings));
      var state = document.getElementById("p-state");
      state.textContent = v.state;
      state.className = "state-" + v.state;
      document.getElementById("p-bar").value = v.percent;
      set("percent", v.percent + "%");
      if (v.done) {
        source.close();
        window.location.reload();
      }
    }
  });
});
