/* The wall's 预警 panel (issue 19): the open alerts of the wall's region, newest first.

   Like wall.js, this watches Dash's store rather than adding a callback: the wall's one Socket.IO
   component (DashSocketIO) writes each pushed event into its props, and the panel's snapshot store
   (wall-alerts-data) is written at load and at each resync. An alert arrives as the `alert` event
   (one alert, or {alerts: [...]}) or as a delta of type "alert" in a `wall_delta` message; either
   way it carries {id, kind, status, region_code, category, raised_at, details, text_zh, text_en}.
   An acknowledged alert stays (marked), a closed one disappears.

   An alert's status only moves forward (new → acknowledged → closed), so merging a snapshot with
   the events heard around it keeps, per alert, the furthest status seen: the order in which a
   snapshot and an event arrive cannot bring a closed alert back. */
(function () {
  "use strict";
  var LIMIT = 12; // as queries/alerts.py WALL_LIMIT
  var RANK = { new: 0, acknowledged: 1, closed: 2 };
  var REPLAY_MS = 10000; // events heard this long before a snapshot was read are applied on top of it
  var LOG_LIMIT = 500;
  var CLOSED_LIMIT = 2000;

  var panel = null; // set once the panel is on the page (see bind)

  function serverNow() { return Date.now() + ((window.wallClock && window.wallClock.offset) || 0); }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) { node.textContent = text; } // text, never HTML
    return node;
  }

  var timeFormats = {};
  function localTime(iso, timezone) {
    var zone = timezone || "Asia/Shanghai";
    if (!timeFormats[zone]) {
      timeFormats[zone] = new Intl.DateTimeFormat("zh-CN", { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false });
    }
    var ms = Date.parse(iso);
    return isNaN(ms) ? "" : timeFormats[zone].format(new Date(ms));
  }

  // ---- The alerts held, merged by id ----

  function valid(a) { return a && (typeof a.id === "number" || typeof a.id === "string") && RANK[a.status] !== undefined; }

  function merge(a) {
    if (!valid(a)) { return; }
    var key = String(a.id);
    if (a.status === "closed") {
      panel.alerts.delete(key);
      panel.closed.add(key);
      if (panel.closed.size > CLOSED_LIMIT) { panel.closed.delete(panel.closed.values().next().value); }
      return;
    }
    if (panel.closed.has(key)) { return; } // closed already: an older event or snapshot cannot reopen it
    var known = panel.alerts.get(key);
    if (known && RANK[known.status] > RANK[a.status]) { return; }
    panel.alerts.set(key, a);
  }

  function alertsOf(message) {
    if (!message) { return []; }
    if (Array.isArray(message)) { return message; }
    if (Array.isArray(message.alerts)) { return message.alerts; }
    if (Array.isArray(message.deltas)) { return message.deltas.filter(function (d) { return d && d.type === "alert"; }); }
    return valid(message) ? [message] : [];
  }

  function hear(message) {
    var items = alertsOf(message);
    if (!items.length) { return; }
    panel.log.push({ at: serverNow(), items: items });
    if (panel.log.length > LOG_LIMIT) { panel.log.splice(0, panel.log.length - LOG_LIMIT); }
    items.forEach(merge);
    render();
  }

  function snapshot(data) {
    if (!data || !Array.isArray(data.items)) { return; }
    var asOf = data.as_of || serverNow();
    panel.alerts = new Map();
    data.items.forEach(merge);
    panel.log = panel.log.filter(function (entry) { return entry.at >= asOf - REPLAY_MS; });
    panel.log.forEach(function (entry) { entry.items.forEach(merge); });
    render();
  }

  // ---- Drawing ----

  function newestFirst(a, b) {
    return (Date.parse(b.raised_at) - Date.parse(a.raised_at)) || (Number(b.id) - Number(a.id));
  }

  function row(a, labels) {
    var kind = (labels.kinds && labels.kinds[a.kind]) || { icon: "!", word: a.kind };
    var item = element("li", "wall-alert wall-alert-" + a.kind + " wall-alert-" + a.status);
    item.setAttribute("data-id", String(a.id));
    item.setAttribute("data-kind", a.kind);
    item.setAttribute("data-status", a.status);
    var head = element("div", "wall-alert-head");
    head.appendChild(element("span", "wall-alert-kind", kind.icon + " " + kind.word));
    if (a.status === "acknowledged") {
      head.appendChild(element("span", "wall-alert-mark acknowledged", labels.acknowledged));
    } else {
      head.appendChild(element("span", "wall-alert-mark new", labels["new"]));
    }
    head.appendChild(element("span", "wall-alert-time", localTime(a.raised_at, labels.timezone)));
    item.appendChild(head);
    var text = labels.lang === "en" ? (a.text_en || a.text_zh) : (a.text_zh || a.text_en);
    item.appendChild(element("div", "wall-alert-text", text || ""));
    return item;
  }

  function signature(a) { return [a.status, a.kind, a.raised_at, a.text_zh, a.text_en].join("\u0001"); }

  function render() {
    var list = document.getElementById(panel.ids.list);
    if (!list) { return; }
    var labels = panel.ids.labels || {};
    var shown = Array.from(panel.alerts.values()).sort(newestFirst).slice(0, LIMIT);
    var wanted = shown.map(function (a) {
      var key = String(a.id);
      var known = panel.rows.get(key);
      if (!known || known.sign !== signature(a)) {
        known = { node: row(a, labels), sign: signature(a) };
        panel.rows.set(key, known);
      }
      return known.node;
    });
    var keep = new Set(shown.map(function (a) { return String(a.id); }));
    panel.rows.forEach(function (_row, key) { if (!keep.has(key)) { panel.rows.delete(key); } });
    var current = list.children;
    var same = current.length === wanted.length && wanted.every(function (node, i) { return current[i] === node; });
    if (!same) { list.replaceChildren.apply(list, wanted); }
    var root = list.closest(".wall-panel");
    if (root) { root.classList.toggle("has-alerts", panel.alerts.size > 0); }
    var count = document.getElementById(panel.ids.count);
    if (count) {
      var words = panel.alerts.size ? (labels.count || "{count}").replace("{count}", String(panel.alerts.size)) : "";
      if (count.textContent !== words) { count.textContent = words; }
    }
    fit(list);
  }

  // Only whole alerts are shown: one that does not fit in the panel is hidden, never cut.
  function fit(list) {
    var rows = list.children;
    var i;
    for (i = 0; i < rows.length; i++) { rows[i].hidden = false; }
    var bottom = list.getBoundingClientRect().bottom;
    var full = false;
    for (i = 0; i < rows.length; i++) {
      full = full || rows[i].getBoundingClientRect().bottom > bottom + 0.5;
      rows[i].hidden = full;
    }
  }

  // ---- Watching Dash's store ----

  // wall.js (loaded first: Dash serves assets in name order) reads a component's props from the store.
  function propsOf(state, id) { return window.ccDashProps(state, id); }

  function onStoreChange(store) {
    var state = store.getState();
    if (state.layout === panel.layout) { return; }
    panel.layout = state.layout;
    var data = propsOf(state, panel.ids.data);
    if (data && data.data && data.data !== panel.data) {
      panel.data = data.data;
      snapshot(data.data);
    }
    var socket = propsOf(state, panel.wall.socket);
    if (!socket) { return; }
    var message = socket["data-" + panel.ids.event];
    if (message && message !== panel.message) {
      panel.message = message;
      hear(message);
    }
    var delta = socket["data-" + panel.wall.event]; // a `wall_delta` message may carry alerts too
    if (delta && delta !== panel.delta) {
      panel.delta = delta;
      hear(delta);
    }
  }

  function bind() {
    var root = document.querySelector(".wall-root[data-wall]");
    var section = document.querySelector(".wall-panel[data-alerts]");
    var stores = window.dash_stores || [];
    if (!root || !section || !stores.length) { return false; }
    panel = {
      wall: JSON.parse(root.getAttribute("data-wall")),
      ids: JSON.parse(section.getAttribute("data-alerts")),
      alerts: new Map(), closed: new Set(), rows: new Map(), log: [],
      layout: null, data: null, message: null, delta: null,
    };
    stores.forEach(function (store) {
      store.subscribe(function () { onStoreChange(store); });
      onStoreChange(store);
    });
    window.addEventListener("resize", function () { var list = document.getElementById(panel.ids.list); if (list) { fit(list); } });
    window.wallAlerts = panel; // for tests and the curious: what the panel holds
    return true;
  }
  if (!bind()) {
    var binder = new MutationObserver(function () { if (bind()) { binder.disconnect(); } });
    binder.observe(document.body || document.documentElement, { childList: true, subtree: true });
  }
})();
