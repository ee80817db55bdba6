// sv2-pool treasury dashboard: refreshes the server-rendered figures every 30 s without
// reloading the page (the page is complete without JavaScript).
(function () {
  "use strict";
  var state = document.getElementById("refresh-state");
  if (state) { state.textContent = "live, refreshing every 30 s"; }
  document.body.setAttribute("data-js", "ready");
  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("content");
        var gen = doc.getElementById("generated");
        if (fresh) { document.getElementById("content").innerHTML = fresh.innerHTML; }
        if (gen) { document.getElementById("generated").textContent = gen.textContent; }
        if (state) { state.textContent = "live, refreshing every 30 s"; }
      })
      .catch(function (e) { if (state) { state.textContent = "refresh failed (" + e.message + "), retrying"; } });
  }
  setInterval(refresh, 30000);
})();
