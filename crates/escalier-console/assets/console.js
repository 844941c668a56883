// Escalier console: live countdowns and the CSRF header on htmx requests.
// Every element with data-deadline (RFC 3339) shows the time left to it,
// updated each second from the server's clock (data-now on the page or
// the polled fragment; on a simulated clock time stands still).
(function () {
  "use strict";
  var base = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function fmt(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400); s %= 86400;
    var h = Math.floor(s / 3600); s %= 3600;
    var m = Math.floor(s / 60); s %= 60;
    var t = d ? d + "d " + h + "h" : h ? h + "h " + pad(m) + "m" : m ? m + "m " + pad(s) + "s" : s + "s";
    return ms < 0 ? "breached " + t + " ago" : "in " + t;
  }

  function sync() {
    var all = document.querySelectorAll("[data-now]");
    if (!all.length) { return; }
    var el = all[all.length - 1];
    base = {
      server: Date.parse(el.getAttribute("data-now")),
      client: Date.now(),
      simulated: document.body.getAttribute("data-simulated") === "true"
    };
  }

  function tick() {
    if (!base) { return; }
    var now = base.simulated ? base.server : base.server + (Date.now() - base.client);
    var els = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < els.length; i++) {
      var e = els[i];
      var left = Date.parse(e.getAttribute("data-deadline")) - now;
      var text = fmt(left);
      if (e.textContent !== text) { e.textContent = text; }
      e.classList.toggle("breached", left < 0);
      e.classList.toggle("soon", left >= 0 && left < 15 * 60000);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    sync();
    tick();
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSwap", function () { sync(); tick(); });
  document.addEventListener("htmx:configRequest", function (e) {
    var m = document.querySelector('meta[name="csrf-token"]');
    if (m) { e.detail.headers["X-CSRF-Token"] = m.getAttribute("content"); }
    // A poll names the version it shows: unchanged, the server answers 204
    // and nothing is swapped (focus and scroll stay put).
    var tag = e.detail.elt && e.detail.elt.getAttribute("data-etag");
    if (tag) { e.detail.headers["X-If-None-Match"] = tag; }
  });
})();
