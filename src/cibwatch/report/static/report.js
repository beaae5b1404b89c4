// Draws the charts from the JSON block and makes tables sortable; no network, no globals kept.
(function () {
  var specs = JSON.parse(document.getElementById("cibwatch-charts").textContent);
  var ids = Object.keys(specs);
  if (typeof Plotly === "undefined") {
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) {
        el.className += " chart-missing";
        el.textContent = "Interactive chart unavailable: plotly.min.js was not found beside this file " +
          "(keep the report's _files folder next to it). The PNG figures below show the same data.";
      }
    });
  } else {
    var config = {
      displaylogo: false, responsive: true, showSendToCloud: false, showEditInChartStudio: false,
      modeBarButtonsToRemove: ["sendDataToCloud", "editInChartStudio", "lasso2d", "select2d"]
    };
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { Plotly.newPlot(el, specs[id].data, specs[id].layout, config); }
    });
  }
  document.body.setAttribute("data-charts", String(ids.length));

  function key(cell, numeric) {
    var raw = cell.getAttribute("data-v");
    if (raw === null) { raw = cell.textContent; }
    if (!numeric) { return raw.toLowerCase(); }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var down = th.getAttribute("aria-sort") !== "descending";
        table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
          return (x < y ? -1 : x > y ? 1 : 0) * (down ? -1 : 1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
