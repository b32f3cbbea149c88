/* The wall reports its own health every minute (POST /wall/health): how old the data on screen
 * is, whether its socket is connected, its JavaScript heap (where the browser tells) and how many
 * long tasks (>50 ms) it has had. It only watches the page (no part of wall.js): the freshness
 * line changes at every resync, the connection badge says the socket's state. /admin flags a
 * wall that stops reporting (closed, frozen, off the network) or whose data stops changing.
 * Loaded on every page by Dash; it does nothing outside the wall. */
(function () {
  "use strict";
  var REPORT_EVERY_MS = 60000;
  var FIRST_REPORT_MS = 5000;
  var longTasks = 0;
  var lastUpdate = null;
  var watched = null;

  function screenId() {
    var id = null;
    try {
      id = window.localStorage.getItem("cc-wall-screen");
      if (!id) {
        id = Math.random().toString(36).slice(2, 12);
        window.localStorage.setItem("cc-wall-screen", id);
      }
    } catch (e) {
      id = id || "nostorage";
    }
    return id;
  }

  function region() {
    return new URLSearchParams(window.location.search).get("region") || null; // none: the token's own
  }

  function watch() {
    var freshness = document.getElementById("wall-freshness");
    if (!freshness || freshness === watched) { return; }
    watched = freshness;
    if (freshness.textContent) { lastUpdate = Date.now(); }
    new MutationObserver(function () { lastUpdate = Date.now(); })
      .observe(freshness, { childList: true, characterData: true, subtree: true });
  }

  function socketState() {
    var badge = document.getElementById("wall-connection");
    if (!badge) { return "unknown"; }
    return badge.className.indexOf("offline") >= 0 ? "disconnected" : "connected";
  }

  function report() {
    if (window.location.pathname !== "/wall" || !document.getElementById("wall-freshness")) { return; }
    watch();
    var memory = window.performance && window.performance.memory;
    var body = {
      id: screenId(),
      region: region(),
      data_age_ms: lastUpdate === null ? null : Date.now() - lastUpdate,
      socket: socketState(),
      heap_bytes: memory ? memory.usedJSHeapSize : null,
      long_tasks: longTasks
    };
    window.fetch("/wall/health", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).catch(function () { /* the server is away: the silence is the report */ });
  }

  try {
    new PerformanceObserver(function (list) { longTasks += list.getEntries().length; })
      .observe({ type: "longtask", buffered: true });
  } catch (e) { /* no long-task timing in this browser */ }
  setInterval(watch, 1000);
  setTimeout(report, FIRST_REPORT_MS);
  setInterval(report, REPORT_EVERY_MS);
})();
