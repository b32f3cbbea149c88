/* The wall's browser side: clock, connection state, pushed deltas, deadline countdowns.
   Everything here runs without a server round trip; the server is asked only for a
   coalesced resync (schedule). Lists are capped, so a wall left for weeks does not grow. */
(function () {
  "use strict";
  var TICKER_LENGTH = 5; // as layouts/wall.py
  var SLA_LENGTH = 6;
  var RESYNC_AFTER_DELTA_MS = 3000; // at most one heavy redraw every 3 s while deltas arrive
  var RESYNC_EVERY_MS = 30000; // deadlines pass and days turn without any delta
  var NEAR_MS = 2 * 3600 * 1000; // amber within two hours of the deadline
  var clock = { offset: 0 }; // server time − browser time, in ms
  window.wallClock = clock;

  function now() { return Date.now() + clock.offset; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function h(type, props) {
    return { type: type, namespace: "dash_html_components", props: props };
  }
  function localTime(iso, timezone) {
    return new Intl.DateTimeFormat("zh-CN", { timeZone: timezone, hour: "2-digit", minute: "2-digit", hour12: false })
      .format(new Date(iso));
  }
  function countdown(deadlineMs, labels) {
    var left = deadlineMs - now();
    var overdue = left < 0;
    var seconds = Math.floor(Math.abs(left) / 1000);
    var days = Math.floor(seconds / 86400);
    var text = (days > 0 ? days + "d " : "") + pad(Math.floor(seconds / 3600) % 24) + ":" +
      pad(Math.floor(seconds / 60) % 60) + ":" + pad(seconds % 60);
    return {
      text: overdue ? labels.overdue + " " + text : text,
      tone: overdue ? "overdue" : (left < NEAR_MS ? "near" : "ok"),
    };
  }

  function tickCountdowns() {
    var nodes = document.querySelectorAll(".sla-countdown[data-deadline]");
    var labels = window.wallLabels;
    if (!labels) { return; }
    for (var i = 0; i < nodes.length; i++) {
      var c = countdown(Number(nodes[i].getAttribute("data-deadline")), labels);
      if (nodes[i].textContent !== c.text) { nodes[i].textContent = c.text; }
      var item = nodes[i].parentNode;
      if (item && item.getAttribute("data-tone") !== c.tone) { item.setAttribute("data-tone", c.tone); }
    }
  }
  setInterval(tickCountdowns, 1000);

  // Dash's renderer keeps an undo history of every browser-side change to a callback input
  // (each clock tick, each pushed delta). A wall has no undo and runs for weeks: without this,
  // the page grows by the size of every message it ever received.
  function forgetUndoHistory() {
    (window.dash_stores || []).forEach(function (store) {
      var history = store.getState().history;
      if (history && history.past && history.past.length) { history.past.length = 0; }
      if (history && history.future && history.future.length) { history.future.length = 0; }
    });
  }
  setInterval(forgetUndoHistory, 10000);

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    wall: {
      clock: function (_tick, labels) {
        var parts = new Intl.DateTimeFormat("zh-CN", {
          timeZone: (labels && labels.timezone) || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
        }).formatToParts(new Date(now()));
        var get = function (type) { return (parts.find(function (p) { return p.type === type; }) || {}).value; };
        return get("year") + "-" + get("month") + "-" + get("day") + " " + get("hour") + ":" + get("minute") + ":" + get("second");
      },

      connection: function (connected, labels) {
        return [connected ? "wall-connection" : "wall-connection offline", connected ? labels.connected : labels.disconnected];
      },

      schedule: function (_tick, connected, dirty, sync, refresh, viewport) {
        var scale = Math.max(Math.min(window.innerWidth / 1920, window.innerHeight / 1080), 0.5);
        var ctx = window.dash_clientside.callback_context;
        var byConnect = ctx.triggered.some(function (t) { return t.prop_id.indexOf(".connected") > 0; });
        var t = Date.now();
        var last = (sync && sync.last) || 0;
        var due = (byConnect && connected) ||
          (connected && dirty > last && t - last >= RESYNC_AFTER_DELTA_MS) ||
          (connected && t - last >= RESYNC_EVERY_MS) ||
          (connected && Math.abs(scale - (viewport || 1)) > 0.01);
        if (!due) { return [window.dash_clientside.no_update, window.dash_clientside.no_update, window.dash_clientside.no_update]; }
        return [(refresh || 0) + 1, { last: t }, scale];
      },

      applyDeltas: function (message, ticker, sla, labels) {
        if (!message || !message.deltas) { return window.dash_clientside.no_update; }
        if (message.sent_at) { clock.offset = 0.8 * clock.offset + 0.2 * (message.sent_at - Date.now()); }
        ticker = (ticker || []).slice();
        var items = ((sla && sla.items) || []).slice();
        message.deltas.forEach(function (d) {
          if (d.type !== "appeal") { return; }
          var entry = {
            id: d.id, time: d.reported_at, deadline: d.deadline_at, priority: d.priority,
            priority_label: labels.priority[d.priority] || d.priority, category: labels.category[d.category] || d.category,
            status: labels.status[d.status] || d.status, place: d.place || "", text: d.text || "",
          };
          if (d.change === "created") {
            ticker = ticker.filter(function (x) { return x.id !== d.id; });
            ticker.unshift(entry);
          }
          items = items.filter(function (x) { return x.id !== d.id; });
          if (d.is_open) { items.push(entry); }
        });
        ticker.sort(function (a, b) { return a.time < b.time ? 1 : (a.time > b.time ? -1 : b.id - a.id); });
        items.sort(function (a, b) { return a.deadline < b.deadline ? -1 : (a.deadline > b.deadline ? 1 : a.id - b.id); });
        return [ticker.slice(0, TICKER_LENGTH), { items: items.slice(0, SLA_LENGTH), server_now: null }, Date.now()];
      },

      renderTicker: function (ticker, labels) {
        return (ticker || []).map(function (a) {
          return h("Li", {
            key: String(a.id), className: "wall-ticker-item", children: [
              h("Span", { className: "wall-priority " + a.priority, children: a.priority_label }),
              h("Span", { className: "wall-ticker-time", children: localTime(a.time, labels.timezone) }),
              h("Span", { className: "wall-ticker-category", children: a.category }),
              h("Span", { className: "wall-ticker-place", children: a.place }),
              h("Div", { className: "wall-ticker-text", children: a.text }),
            ],
          });
        });
      },

      renderSla: function (sla, labels) {
        window.wallLabels = labels;
        if (sla && sla.server_now) { clock.offset = sla.server_now - Date.now(); }
        return ((sla && sla.items) || []).map(function (a) {
          var deadline = new Date(a.deadline).getTime();
          var c = countdown(deadline, labels);
          return h("Li", {
            key: String(a.id), className: "wall-sla-item", "data-tone": c.tone, children: [
              h("Span", { className: "wall-priority " + a.priority, children: a.priority_label }),
              h("Span", { className: "wall-sla-category", children: a.category }),
              h("Span", { className: "wall-sla-place", children: a.place }),
              h("Span", { className: "sla-countdown", "data-deadline": String(deadline), children: c.text }),
            ],
          });
        });
      },
    },
  });
})();
