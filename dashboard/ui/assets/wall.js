/* The wall's browser side: clock, connection state, pushed deltas, deadline countdowns.

   A pushed delta goes straight from the Socket.IO event to the DOM: this script watches
   Dash's store (the DashSocketIO component writes each event into its props synchronously)
   and updates the ticker, the deadline board and the "received today" counter itself, with
   no Dash callback or React render in between. The ticker and the board are this script's
   own DOM (their <ul>s have no Dash children); Dash only delivers the server's snapshots
   (the stores wall-ticker-data and wall-sla-data, at page load and at each coalesced
   resync), and the heavy charts and aggregates are redrawn only by that resync: at most
   every 3 s while deltas arrive, every 30 s regardless, and at once after a reconnect.
   Lists are capped and the log of recent deltas is bounded, so a wall left for weeks does
   not grow. */
(function () {
  "use strict";
  var TICKER_LENGTH = 5; // as queries/wall.py
  var BOARD_LIMIT = 120; // as queries/wall.py BOARD_LIMIT: the rows the deadline board pages through
  var PAGE_MS = 8000; // the board shows each page this long
  var OFFLINE_AFTER_LOAD_MS = 4000; // a wall that never connects shows the overlay after this long
  var RESYNC_AFTER_DELTA_MS = 3000; // at most one heavy redraw every 3 s while deltas arrive
  var RESYNC_EVERY_MS = 30000; // deadlines pass and days turn without any delta
  // A delta published this close before a snapshot was read may or may not be in it: replay it
  // (replaying is idempotent for the lists; the counter counts only deltas after the snapshot).
  var SNAPSHOT_OVERLAP_MS = 1000;
  var LOG_LIMIT = 5000; // deltas kept for replay; pruned as snapshots cover them
  var clock = { offset: 0 }; // server time − browser time, in ms
  window.wallClock = clock;

  var wall = null; // set once the wall's root is on the page (see bind)

  function now() { return Date.now() + clock.offset; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // Intl formatters are costly to build and the wall formats every second: build each once.
  var formatters = {};
  function formatter(key, options) {
    if (!formatters[key]) { formatters[key] = new Intl.DateTimeFormat(options.locale || "zh-CN", options); }
    return formatters[key];
  }
  function localTime(iso, timezone) {
    return formatter("time " + timezone, { timeZone: timezone, hour: "2-digit", minute: "2-digit", hour12: false })
      .format(new Date(iso));
  }
  function localDay(ms, timezone) { // YYYY-MM-DD in the wall's time zone
    return formatter("day " + timezone, { locale: "en-CA", timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date(ms));
  }
  var numberFormat = new Intl.NumberFormat("en-US"); // as kpi.format_kpi: 1,234

  // Time left and its tone by the one shared rule (ui/timeleft.py, its twin assets/timeleft.js):
  // "over" (red, overdue), "soon" (amber, due within two hours) or "ok"; words from the server.
  function timeWords() {
    if (!wall.timeWords) {
      var holder = document.querySelector(".wall-root [data-cc-timeleft]");
      try { wall.timeWords = holder ? JSON.parse(holder.getAttribute("data-cc-timeleft")) : null; } catch (e) { wall.timeWords = null; }
    }
    return wall.timeWords;
  }
  function toneOf(seconds) {
    var rule = window.ccTimeLeft;
    return rule ? rule.urgency(seconds, true) : (seconds < 0 ? "over" : (seconds <= 7200 ? "soon" : "ok"));
  }
  function countdown(deadlineMs) {
    var seconds = (deadlineMs - now()) / 1000;
    var rule = window.ccTimeLeft;
    var tone = toneOf(seconds);
    var text = rule ? rule.text(seconds, timeWords()) : "";
    return { text: (tone === "soon" ? "\u23F1 " : "") + text, tone: tone };
  }

  // The board's four groups (queries/wall.py sla_board): 0 overdue extra-urgent, 1 overdue urgent,
  // 2 due within two hours, 3 overdue ordinary; 4: not on the board (due later).
  function tierOf(a) {
    var tone = toneOf((Date.parse(a.deadline) - now()) / 1000); // the tone alone: ranking needs no words
    if (tone === "over") { return a.priority === "extra_urgent" ? 0 : (a.priority === "urgent" ? 1 : 3); }
    return tone === "soon" ? 2 : 4;
  }

  // ---- Building the ticker and the deadline board (this script's own DOM) ----

  function element(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) { node.textContent = text; } // text, never HTML
    return node;
  }

  function tickerRow(a, labels) {
    var row = element("li", a.kind === "escalation" ? "wall-ticker-item wall-ticker-escalation" : "wall-ticker-item");
    row.appendChild(element("span", "wall-priority " + a.priority, a.priority_label));
    row.appendChild(element("span", "wall-ticker-time", localTime(a.time, labels.timezone)));
    row.appendChild(element("span", "wall-ticker-category", a.category));
    row.appendChild(element("span", "wall-ticker-place", a.place));
    row.appendChild(element("div", "wall-ticker-text", a.text));
    return row;
  }

  // The board's marks (issue 16): a shape and words besides colour, so they read on any screen.
  function slaMarks(a, labels) {
    var marks = element("span", "wall-sla-marks");
    if (a.escalated) {
      var level = (labels.level && labels.level[a.level]) || a.level || "";
      var up = element("span", "wall-mark wall-mark-escalated", "\u25B2 " + labels.escalated);
      up.setAttribute("title", (labels.at_level || "{level}").replace("{level}", level));
      up.setAttribute("data-level", a.level || "");
      marks.appendChild(up);
    }
    if (a.urge_count > 0) {
      var urged = element("span", "wall-mark wall-mark-urged", "\u2691 " + (labels.urged || "{count}").replace("{count}", a.urge_count));
      urged.setAttribute("data-count", String(a.urge_count));
      marks.appendChild(urged);
    }
    return marks;
  }

  function slaRow(a, labels) {
    var deadline = new Date(a.deadline).getTime();
    var c = countdown(deadline);
    var row = element("li", "wall-sla-item");
    row.setAttribute("data-tone", c.tone);
    row.setAttribute("data-id", String(a.id));
    row.setAttribute("data-priority", a.priority);
    var first = element("div", "wall-sla-line");
    first.appendChild(element("span", "wall-priority " + a.priority, a.priority_label));
    first.appendChild(element("span", "wall-sla-category", a.category));
    first.appendChild(slaMarks(a, labels));
    var second = element("div", "wall-sla-line");
    second.appendChild(element("span", "wall-sla-place", a.place));
    var left = element("span", "sla-countdown", c.text);
    left.setAttribute("data-deadline", String(deadline));
    second.appendChild(left);
    row.appendChild(first);
    row.appendChild(second);
    return row;
  }

  // Rows are kept per appeal and rebuilt only when what they show changes; the list is
  // rearranged only when its order changes, so a delta touches a handful of nodes.
  function renderList(listId, items, rows, build, signature) {
    var list = document.getElementById(listId);
    if (!list || !wall.labels) { return; }
    var wanted = items.map(function (a) {
      var key = String(a.id);
      var sign = signature(a);
      var known = rows.get(key);
      if (!known || known.sign !== sign) {
        known = { node: build(a, wall.labels), sign: sign };
        rows.set(key, known);
      }
      return known.node;
    });
    var keep = new Set(items.map(function (a) { return String(a.id); }));
    rows.forEach(function (_row, key) { if (!keep.has(key)) { rows.delete(key); } });
    var current = list.children;
    var same = current.length === wanted.length && wanted.every(function (node, i) { return current[i] === node; });
    if (!same) { list.replaceChildren.apply(list, wanted); }
  }

  function renderTicker() {
    renderList(wall.ids.ticker, wall.ticker, wall.tickerRows, tickerRow, function (a) {
      return [a.kind, a.priority, a.priority_label, a.time, a.category, a.place, a.text].join("\u0001");
    });
    fitTicker();
  }

  // Only whole ticker rows (and area cards) are shown: one that does not fit in its panel is hidden, never cut.
  function fitTicker() {
    fitList(document.getElementById(wall.ids.ticker));
    fitList(document.querySelector(".wall-cards"));
  }
  function fitList(list) {
    if (!list || !list.children.length) { return; }
    var rows = list.children;
    // Fitted already with these rows at this size: showing them all to measure again would lay the
    // list out twice every second for nothing.
    var fitted = list.__ccFitted;
    var nodes = Array.prototype.slice.call(rows);
    if (fitted && fitted.height === list.clientHeight && fitted.measure === wall.measure && fitted.nodes.length === nodes.length &&
        nodes.every(function (node, i) { return fitted.nodes[i] === node; })) { return; }
    list.__ccFitted = { nodes: nodes, height: list.clientHeight, measure: wall.measure };
    for (var i = 0; i < rows.length; i++) { rows[i].hidden = false; }
    var bottom = list.getBoundingClientRect().bottom;
    var full = false;
    for (var j = 0; j < rows.length; j++) {
      full = full || rows[j].getBoundingClientRect().bottom > bottom + 0.5;
      var hide = full && j > 0;
      if (rows[j].hidden !== hide) { rows[j].hidden = hide; }
    }
  }

  function renderSla() {
    renderList(wall.ids.sla, wall.sla, wall.slaRows, slaRow, function (a) {
      return [a.priority, a.priority_label, a.deadline, a.category, a.place, a.level, a.escalated, a.urge_count].join("\u0001");
    });
    markRows();
    paginate();
  }

  // Each row's tone and group as of now; an overdue extra-urgent row pulses (wall.css; a still
  // double frame where the screen asks for reduced motion) until it is handled.
  function markRows() {
    var list = document.getElementById(wall.ids.sla);
    if (!list) { return; }
    for (var i = 0; i < list.children.length; i++) {
      var row = list.children[i];
      var node = row.querySelector(".sla-countdown");
      if (!node) { continue; }
      var c = countdown(Number(node.getAttribute("data-deadline")));
      if (node.textContent !== c.text) { node.textContent = c.text; }
      if (row.getAttribute("data-tone") !== c.tone) { row.setAttribute("data-tone", c.tone); }
      var pulse = c.tone === "over" && row.getAttribute("data-priority") === "extra_urgent";
      if (row.classList.contains("wall-sla-pulse") !== pulse) { row.classList.toggle("wall-sla-pulse", pulse); }
    }
  }

  // The board pages through all its rows, as many whole rows per page as its panel holds.
  function paginate() {
    var list = document.getElementById(wall.ids.sla);
    var pager = document.getElementById(wall.ids.sla_page);
    if (!list || !wall.labels) { return; }
    var rows = list.children;
    if (!rows.length) {
      if (pager) { setText(pager, wall.labels.board_empty || ""); }
      wall.pages = 1;
      return;
    }
    var i;
    // Each row is measured once (a new row, or all of them after a resize or a snapshot): showing
    // every row and measuring it again at each delta laid the page out anew every time.
    if (!wall.measure) {
      for (i = 0; i < rows.length; i++) { rows[i].hidden = false; }
      wall.measure = { room: list.clientHeight, gap: parseFloat(getComputedStyle(list).rowGap) || 0, heights: new WeakMap() };
    }
    var heights = wall.measure.heights;
    var fresh = [];
    for (i = 0; i < rows.length; i++) {
      if (!heights.has(rows[i])) { rows[i].hidden = false; fresh.push(rows[i]); }
    }
    fresh.forEach(function (row) { heights.set(row, row.getBoundingClientRect().height); }); // one layout for all
    var room = list.clientHeight;
    var gap = wall.measure.gap;
    var pageOf = [];
    var page = 0;
    var used = 0;
    for (i = 0; i < rows.length; i++) {
      var height = heights.get(rows[i]);
      if (used > 0 && used + gap + height > room + 0.5) { page += 1; used = 0; }
      used += (used > 0 ? gap : 0) + height;
      pageOf.push(page);
    }
    wall.pages = page + 1;
    if (wall.page >= wall.pages) { wall.page = 0; }
    for (i = 0; i < rows.length; i++) {
      var hide = pageOf[i] !== wall.page;
      if (rows[i].hidden !== hide) { rows[i].hidden = hide; }
    }
    if (pager) {
      setText(pager, wall.pages > 1 ? (wall.labels.board_page || "{page}/{pages}")
        .replace("{page}", String(wall.page + 1)).replace("{pages}", String(wall.pages)) : "");
    }
  }

  // ---- "Received today": the server's count plus the appeals pushed since its snapshot ----

  function receivedSince(asOf) {
    var today = localDay(now(), wall.labels.timezone);
    var count = 0;
    wall.log.forEach(function (entry) {
      if (entry.sentAt <= asOf) { return; }
      entry.deltas.forEach(function (d) {
        if (d.type === "appeal" && d.change === "created" && d.reported_at &&
            localDay(Date.parse(d.reported_at), wall.labels.timezone) === today) { count += 1; }
      });
    });
    return count;
  }

  // The number's text belongs to React too: the server's value and snapshot time are read
  // from attributes React keeps current, and the text is rewritten from them (never
  // accumulated), so a resync that React renders, or leaves alone, always ends right. The
  // text node is edited in place, never replaced, so React's own later writes still land.
  function setText(node, text) {
    var only = node.firstChild;
    if (only && only === node.lastChild && only.nodeType === 3) {
      if (only.nodeValue !== text) { only.nodeValue = text; }
    } else if (node.textContent !== text) {
      node.textContent = text;
    }
  }

  function renderReceived() {
    if (!wall || !wall.labels) { return; }
    var number = document.querySelector(".wall-tile[data-kpi=received] .wall-number[data-value]");
    if (!number) { return; }
    var value = number.getAttribute("data-value");
    var asOf = number.getAttribute("data-as-of");
    if (!value || !asOf) { return; }
    setText(number, numberFormat.format(Number(value) + receivedSince(Number(asOf))));
  }

  // ---- Deltas and snapshots ----

  function entryOf(d, labels) {
    return {
      id: d.id, time: d.reported_at, deadline: d.deadline_at, priority: d.priority,
      priority_label: labels.priority[d.priority] || d.priority, category: labels.category[d.category] || d.category,
      status: labels.status[d.status] || d.status, text: d.text || "",
      place: (labels.lang === "en" && d.place_en) || d.place || "",
      level: d.level, escalated: !!d.escalated, urge_count: d.urge_count || 0,
    };
  }

  // An automatic escalation (services/escalation.py's delta) as a ticker row, in words.
  function escalationEntryOf(d, labels) {
    var words = (labels.escalation || "{from}\u2192{to}")
      .replace("{from}", (labels.level && labels.level[d.from_level]) || d.from_level)
      .replace("{to}", (labels.level && labels.level[d.to_level]) || d.to_level);
    return {
      id: d.id, kind: "escalation", time: d.at, priority: d.priority,
      priority_label: labels.priority[d.priority] || d.priority, category: labels.category[d.category] || d.category,
      place: (labels.lang === "en" && d.place_en) || d.place || "", text: words,
    };
  }

  function byId(a, b) { return String(a.id) < String(b.id) ? -1 : (String(a.id) > String(b.id) ? 1 : 0); }
  // Ticker ids are appeal numbers or "escalation-…" strings: numbers compare as numbers.
  function byNewest(a, b) {
    return (Date.parse(b.time) - Date.parse(a.time)) ||
      (typeof a.id === "number" && typeof b.id === "number" ? b.id - a.id : byId(b, a));
  }

  function apply(deltas) {
    deltas.forEach(function (d) {
      if (d.type === "escalation") {
        wall.ticker = wall.ticker.filter(function (x) { return x.id !== d.id; });
        wall.ticker.unshift(escalationEntryOf(d, wall.labels));
        return;
      }
      if (d.type !== "appeal") { return; }
      var entry = entryOf(d, wall.labels);
      if (d.change === "created") {
        wall.ticker = wall.ticker.filter(function (x) { return x.id !== d.id; });
        wall.ticker.unshift(entry);
      }
      wall.sla = wall.sla.filter(function (x) { return x.id !== d.id; });
      if (d.is_open) { wall.sla.push(entry); }
    });
    wall.ticker = wall.ticker.sort(byNewest).slice(0, TICKER_LENGTH);
    wall.sla = boardOrder(wall.sla);
  }

  // The board's rows in risk order, those due later left out.
  // Within a group: the earliest deadline first, but the latest first among overdue ordinary ones.
  function boardOrder(items) {
    var ranked = items.map(function (a) { return { a: a, tier: tierOf(a), deadline: Date.parse(a.deadline) }; })
      .filter(function (r) { return r.tier < 4; });
    ranked.sort(function (x, y) {
      if (x.tier !== y.tier) { return x.tier - y.tier; }
      if (x.deadline !== y.deadline) { return x.tier === 3 ? y.deadline - x.deadline : x.deadline - y.deadline; }
      return x.a.id - y.a.id;
    });
    return ranked.slice(0, BOARD_LIMIT).map(function (r) { return r.a; });
  }

  function replaySince(asOf) {
    wall.log.forEach(function (entry) {
      if (entry.sentAt >= asOf - SNAPSHOT_OVERLAP_MS) { apply(entry.deltas); }
    });
  }

  function receive(message) {
    if (!message || !message.deltas) { return; }
    if (message.sent_at) { clock.offset = 0.8 * clock.offset + 0.2 * (message.sent_at - Date.now()); }
    wall.lastDeltaAt = Date.now();
    wall.lastDataAt = now();
    wall.log.push({ sentAt: message.sent_at || now(), deltas: message.deltas });
    if (wall.log.length > LOG_LIMIT) { wall.log.splice(0, wall.log.length - LOG_LIMIT); }
    apply(message.deltas);
    renderTicker();
    renderSla();
    renderReceived();
  }

  // Forget deltas that every snapshot on screen already covers.
  function pruneLog() {
    var covered = Math.min(wall.tickerAsOf, wall.slaAsOf) - 2 * SNAPSHOT_OVERLAP_MS;
    var keep = 0;
    while (keep < wall.log.length && wall.log[keep].sentAt < covered) { keep += 1; }
    if (keep) { wall.log.splice(0, keep); }
  }

  function tickerSnapshot(data) {
    wall.ticker = ((data && data.items) || []).slice();
    wall.tickerAsOf = (data && data.as_of) || now();
    replaySince(wall.tickerAsOf);
    pruneLog();
    renderTicker();
  }

  function slaSnapshot(data) {
    if (data && data.server_now) { clock.offset = data.server_now - Date.now(); }
    wall.sla = ((data && data.items) || []).slice();
    wall.slaAsOf = (data && data.as_of) || now();
    wall.lastDataAt = now();
    replaySince(wall.slaAsOf);
    wall.sla = boardOrder(wall.sla);
    pruneLog();
    renderSla();
  }

  // ---- Watching Dash's store ----

  function propsOf(state, id) {
    var path = state.paths && state.paths.strs && state.paths.strs[id];
    var node = state.layout;
    if (!path) { return undefined; }
    for (var i = 0; i < path.length && node; i++) { node = node[path[i]]; }
    return node && node.props;
  }
  window.ccDashProps = propsOf; // the wall's other scripts (wall_alerts.js) read Dash's store the same way

  // Runs synchronously on every Dash store change; does work only when one of the wall's
  // props changed (Dash replaces the objects it changes, so identity is enough).
  function onStoreChange(store) {
    var state = store.getState();
    if (state.layout === wall.layout) { return; }
    wall.layout = state.layout;
    var ids = wall.ids;
    var labels = propsOf(state, ids.labels);
    if (labels && labels.data && labels.data !== wall.labels) {
      wall.labels = labels.data;
      window.wallLabels = labels.data;
      wall.tickerRows.clear();
      wall.slaRows.clear();
      renderTicker();
      renderSla();
    }
    if (!wall.labels) { return; }
    // A resync's snapshots are drawn in a task of their own, after React and Plotly have drawn the
    // rest of the resync: each task stays short (deltas received meanwhile are replayed on them).
    var ticker = propsOf(state, ids.ticker_data);
    if (ticker && ticker.data !== wall.tickerData) {
      wall.tickerData = ticker.data;
      later(function () { tickerSnapshot(ticker.data); });
    }
    var sla = propsOf(state, ids.sla_data);
    if (sla && sla.data !== wall.slaData) {
      wall.slaData = sla.data;
      later(function () { wall.measure = null; slaSnapshot(sla.data); }); // rows measured afresh
    }
    var socket = propsOf(state, ids.socket);
    if (socket) { connection(!!socket.connected); }
    var message = socket && socket["data-" + ids.event];
    if (message && message !== wall.message) {
      wall.message = message;
      receive(message);
    }
  }

  function later(work) { setTimeout(work, 0); }

  // The wall page carries the ids this script needs on its root (data-wall, from dashboard/ids.py).
  function bind() {
    var root = document.querySelector(".wall-root[data-wall]");
    var stores = window.dash_stores || [];
    if (!root || !stores.length) { return false; }
    wall = {
      ids: JSON.parse(root.getAttribute("data-wall")),
      labels: null, ticker: [], sla: [], tickerAsOf: 0, slaAsOf: 0, log: [], lastDeltaAt: 0,
      tickerRows: new Map(), slaRows: new Map(), page: 0, pages: 1, pageShownAt: Date.now(),
      connected: false, everConnected: false, frozen: false, loadedAt: Date.now(), lastDataAt: now(),
    };
    stores.forEach(function (store) {
      store.subscribe(function () { onStoreChange(store); });
      wall.layout = null;
      onStoreChange(store);
    });
    // React renders a resync's KPI tiles some time after the store changes: recount when it
    // has written their attributes (or replaced them).
    var kpis = document.getElementById(wall.ids.kpis);
    if (kpis) {
      new MutationObserver(renderReceived).observe(kpis, {
        subtree: true, childList: true, attributes: true, attributeFilter: ["data-value", "data-as-of"],
      });
    }
    renderReceived();
    window.addEventListener("resize", function () { wall.measure = null; if (wall.labels) { paginate(); fitTicker(); } });
    return true;
  }
  if (!bind()) {
    var binder = new MutationObserver(function () { if (bind()) { binder.disconnect(); } });
    binder.observe(document.body || document.documentElement, { childList: true, subtree: true });
  }

  // ---- The connection: a lost one dims the whole wall and stops its clocks ----

  function showOffline(show) {
    var overlay = document.getElementById(wall.ids.offline);
    if (!overlay) { return; }
    wall.frozen = show;
    document.documentElement.classList.toggle("wall-frozen", show);
    if (show) {
      var last = document.getElementById(wall.ids.offline_last);
      var zone = (wall.labels && wall.labels.timezone) || "Asia/Shanghai";
      var time = formatter("hms " + zone, { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false })
        .format(new Date(wall.lastDataAt || now()));
      if (last) { setText(last, ((wall.labels && wall.labels.offline_last) || "{time}").replace("{time}", time)); }
    }
    overlay.classList.toggle("shown", show);
    overlay.setAttribute("aria-hidden", show ? "false" : "true");
  }

  function connection(connected) {
    if (connected === wall.connected) { return; }
    wall.connected = connected;
    if (connected) {
      wall.everConnected = true;
      showOffline(false);
      markRows(); // countdowns jump to now; the resync that follows brings the data
    } else if (wall.everConnected) {
      showOffline(true); // at once: the socket closed
    }
  }

  function tick() {
    if (!wall) { return; }
    if (!wall.connected && !wall.frozen && Date.now() - wall.loadedAt > OFFLINE_AFTER_LOAD_MS) { showOffline(true); }
    if (wall.frozen || !window.wallLabels) { return; } // countdowns and pages stand still while disconnected
    markRows();
    if (wall.pages > 1 && Date.now() - wall.pageShownAt >= PAGE_MS) {
      wall.page = (wall.page + 1) % wall.pages;
      wall.pageShownAt = Date.now();
      paginate();
    }
    // The order can change as time passes (due soon → overdue): re-rank every tick.
    var ranked = boardOrder(wall.sla);
    if (ranked.length !== wall.sla.length || ranked.some(function (a, i) { return a !== wall.sla[i]; })) {
      wall.sla = ranked;
      renderSla();
    }
    renderReceived(); // the day may have turned: a backstop for the observer above
    fitList(document.querySelector(".wall-cards")); // a resync may have drawn new cards
  }
  setInterval(tick, 1000);

  // A wall runs for weeks: after data-reload-after-ms (CC_WALL_RELOAD_HOURS) the page starts
  // afresh, so that nothing the browser keeps can grow without bound and new assets are picked
  // up. Only once the server serves this very page again: reloading while the server is down
  // or refusing would replace stale data with an error page.
  var loadedAt = Date.now();
  var nextReloadTry = 0;
  var RELOAD_RETRY_MS = 10000;
  function maybeReload() {
    var root = document.querySelector(".wall-root[data-reload-after-ms]");
    var after = root ? Number(root.getAttribute("data-reload-after-ms")) : 0;
    var t = Date.now();
    if (!after || t - loadedAt < after || t < nextReloadTry) { return; }
    nextReloadTry = t + RELOAD_RETRY_MS;
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { if (response.ok) { window.location.reload(); } })
      .catch(function () { /* the server is away: try again later */ });
  }
  setInterval(maybeReload, 1000);

  // Dash's renderer keeps an undo history of every browser-side change to a callback input
  // (each clock tick, each connection change). A wall has no undo and runs for weeks: without
  // this, the page grows by the size of every change it ever saw.
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
        if (wall && wall.frozen) { return window.dash_clientside.no_update; } // stopped while disconnected
        var parts = formatter("clock " + ((labels && labels.timezone) || "Asia/Shanghai"), {
          timeZone: (labels && labels.timezone) || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
        }).formatToParts(new Date(now()));
        var get = function (type) { return (parts.find(function (p) { return p.type === type; }) || {}).value; };
        return get("year") + "-" + get("month") + "-" + get("day") + " " + get("hour") + ":" + get("minute") + ":" + get("second");
      },

      connection: function (connected, labels) {
        return [connected ? "wall-connection" : "wall-connection offline", connected ? labels.connected : labels.disconnected];
      },

      schedule: function (_tick, connected, sync, refresh, viewport) {
        var scale = Math.max(Math.min(window.innerWidth / 1920, window.innerHeight / 1080), 0.5);
        var ctx = window.dash_clientside.callback_context;
        var byConnect = ctx.triggered.some(function (t) { return t.prop_id.indexOf(".connected") > 0; });
        var t = Date.now();
        var last = (sync && sync.last) || 0;
        var lastDelta = (wall && wall.lastDeltaAt) || 0;
        var due = (byConnect && connected) ||
          (connected && lastDelta > last && t - last >= RESYNC_AFTER_DELTA_MS) ||
          (connected && t - last >= RESYNC_EVERY_MS) ||
          (connected && Math.abs(scale - (viewport || 1)) > 0.01);
        if (!due) { return [window.dash_clientside.no_update, window.dash_clientside.no_update, window.dash_clientside.no_update]; }
        return [(refresh || 0) + 1, { last: t }, scale];
      },
    },
  });
})();
