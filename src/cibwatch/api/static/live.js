// The live page: redraw the window's activity, campaigns and alerts from GET /api/live every few
// seconds. Every value goes in as text (textContent), never as markup: post text is untrusted.
"use strict";
(function () {
  var POLL_MS = 5000;
  var SVG = "http://www.w3.org/2000/svg";

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function campaignCell(row, id) {
    var td = cell(row, "");
    var a = document.createElement("a");
    a.href = "/campaigns/" + encodeURIComponent(id);
    a.textContent = id;
    td.appendChild(a);
  }

  function rows(tableId, items, fill) {
    var body = document.querySelector("#" + tableId + " tbody");
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    items.forEach(function (item) {
      var row = document.createElement("tr");
      fill(row, item);
      body.appendChild(row);
    });
  }

  function bars(activity) {
    var svg = document.getElementById("live-activity");
    if (!svg) { return; }
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var most = Math.max.apply(null, activity.map(function (a) { return a.posts; }).concat([1]));
    var width = 800 / Math.max(activity.length, 1);
    activity.forEach(function (a, k) {
      var h = Math.round(110 * a.posts / most);
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(k * width));
      rect.setAttribute("y", String(120 - h));
      rect.setAttribute("width", String(Math.max(width - 1, 1)));
      rect.setAttribute("height", String(h));
      var title = document.createElementNS(SVG, "title");
      title.textContent = a.t + ": " + a.posts + " posts";
      rect.appendChild(title);
      svg.appendChild(rect);
    });
  }

  function draw(state) {
    var status = document.getElementById("live-status");
    if (status) {
      status.textContent = state.watched
        ? "Last batch " + state.last_batch_at + "; window " + state.window.start + " – " + state.window.end +
          ", " + state.window.posts + " posts."
        : "No cibwatch watch has fed this case.";
    }
    bars(state.activity);
    rows("live-campaigns", state.campaigns, function (row, c) {
      campaignCell(row, c.campaign_id);
      cell(row, c.size);
      cell(row, c.last_at);
      cell(row, c.suspicion_score === null ? "" : c.suspicion_score.toFixed(2));
      cell(row, c.summary);
    });
    rows("live-alerts", state.alerts, function (row, a) {
      cell(row, a.at);
      cell(row, a.alert);
      campaignCell(row, a.campaign_id);
      cell(row, a.size);
      cell(row, a.tier);
    });
  }

  function poll() {
    fetch("/api/live", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) { if (state) { draw(state); } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  var initial = document.getElementById("live-state");
  if (initial) { draw(JSON.parse(initial.textContent)); }
  window.setTimeout(poll, POLL_MS);
})();
