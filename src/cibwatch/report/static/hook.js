// Runs first: records script errors, failed loads, blocked requests and console.error into a
// hidden element, so a headless browser's dumped DOM shows whether the page rendered cleanly.
(function () {
  var pending = [];
  function record(kind, message) {
    var line = kind + ": " + message;
    var box = document.getElementById("cibwatch-page-errors");
    if (!box) { pending.push(line); return; }
    box.textContent += line + "\n";
    box.setAttribute("data-count", String(Number(box.getAttribute("data-count") || 0) + 1));
  }
  window.addEventListener("error", function (event) {
    var target = event.target || {};
    record("error", event.message || ("could not load " + (target.src || target.href || target.tagName)));
  }, true);  // capture: failed loads of scripts and images do not bubble
  window.addEventListener("unhandledrejection", function (event) {
    record("unhandled rejection", String(event.reason));
  });
  document.addEventListener("securitypolicyviolation", function (event) {
    record("blocked", event.blockedURI + " (" + event.violatedDirective + ")");
  });
  var consoleError = console.error;
  console.error = function () {
    record("console.error", Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", function () {
    var early = pending;
    pending = [];
    early.forEach(function (line) { record("early", line); });
  });
})();
