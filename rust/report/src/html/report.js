// dbtest's HTML report: renders the JSON report embedded in the page (the
// `dbtest-data` script element). Everything a test wrote reaches the page as
// text (textContent), never as markup.
(function () {
  "use strict";
  var OUTCOMES = ["failed", "error", "flaky", "xpassed", "passed", "skipped", "xfailed"];
  var LABELS = {
    passed: "passed", failed: "failed", error: "errors", skipped: "skipped",
    xfailed: "xfailed", xpassed: "xpassed", flaky: "flaky"
  };
  var report = JSON.parse(document.getElementById("dbtest-data").textContent);
  var tests = report.tests || [];
  var run = report.run || {};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        if (key === "text") { node.textContent = attrs[key]; }
        else if (key === "className") { node.className = attrs[key]; }
        else { node.setAttribute(key, attrs[key]); }
      });
    }
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function category(test) { return test.flaky ? "flaky" : test.outcome; }

  function seconds(value) {
    if (value === null || value === undefined) { return ""; }
    if (value < 0.001) { return (value * 1e6).toFixed(0) + " µs"; }
    if (value < 1) { return (value * 1e3).toFixed(1) + " ms"; }
    return value.toFixed(2) + " s";
  }

  function workerName(test) {
    if (!test.worker) { return ""; }
    return (test.shard ? "shard " + test.shard + " · " : "") + "worker " + test.worker;
  }

  // --- header: run facts and counts -------------------------------------
  var app = document.getElementById("app");
  app.textContent = "";
  var header = el("header");
  header.appendChild(el("h1", { text: "dbtest report" }));
  var facts = el("div", { className: "facts" });
  [
    run.started_at ? "started " + run.started_at : null,
    "took " + seconds(run.duration || 0),
    run.workers + (run.workers === 1 ? " worker" : " workers"),
    run.shard ? "shard " + run.shard.index + "/" + run.shard.total : null,
    run.python ? "Python " + run.python : null,
    run.dbtest_version ? "dbtest " + run.dbtest_version : null,
    run.seed !== null && run.seed !== undefined ? "seed " + run.seed : null
  ].forEach(function (fact) { if (fact) { facts.appendChild(el("span", { text: fact })); } });
  header.appendChild(facts);
  if (run.interrupted || run.stopped || run.not_run) {
    var why = run.interrupted ? "Interrupted: results are partial." : "Stopped early: " + (run.stopped || "");
    if (run.not_run) { why += " " + run.not_run + " selected tests did not run."; }
    header.appendChild(el("div", { className: "banner", text: why }));
  }
  var counts = {};
  OUTCOMES.forEach(function (o) { counts[o] = 0; });
  tests.forEach(function (t) { counts[category(t)] = (counts[category(t)] || 0) + 1; });
  var countRow = el("div", { className: "counts", id: "counts" });
  countRow.appendChild(el("div", { className: "count total" }, [el("b", { text: String(tests.length) }), "tests"]));
  OUTCOMES.forEach(function (o) {
    if (counts[o] || o === "passed" || o === "failed") {
      countRow.appendChild(el("div", { className: "count " + o, "data-outcome": o },
        [el("b", { text: String(counts[o]) }), LABELS[o]]));
    }
  });
  header.appendChild(countRow);
  app.appendChild(header);
  var main = el("main");
  app.appendChild(main);

  // --- controls: filter by outcome, search by id --------------------------
  var controls = el("div", { className: "controls" });
  var shown = {};
  OUTCOMES.forEach(function (o) {
    shown[o] = true;
    var box = el("input", { type: "checkbox", id: "filter-" + o });
    box.checked = true;
    box.addEventListener("change", function () { shown[o] = box.checked; applyFilter(); });
    controls.appendChild(el("label", { "for": "filter-" + o }, [box, " " + LABELS[o] + " (" + counts[o] + ")"]));
  });
  var search = el("input", { type: "search", id: "search", placeholder: "Search test ids…" });
  search.addEventListener("input", applyFilter);
  controls.appendChild(search);

  // --- timeline: one lane per worker, a bar per test ------------------------
  var timed = tests.filter(function (t) { return t.worker && t.start !== null && t.start !== undefined; });
  main.appendChild(el("h2", { text: "Timeline of the workers" }));
  var timeline = el("div", { className: "timeline", id: "timeline" });
  var bars = [];
  if (!timed.length) {
    timeline.appendChild(el("div", { className: "empty", text: "No test ran on a worker (or the report has no start times)." }));
  } else {
    var span = run.duration || 0;
    timed.forEach(function (t) { span = Math.max(span, t.start + t.duration); });
    span = span || 1;
    var lanes = {};
    var laneOrder = [];
    timed.forEach(function (t) {
      var key = (t.shard || 0) * 100000 + t.worker;
      if (!lanes[key]) { lanes[key] = []; laneOrder.push(key); }
      lanes[key].push(t);
    });
    laneOrder.sort(function (a, b) { return a - b; });
    var tooltip = el("div", { id: "tooltip" });
    document.body.appendChild(tooltip);
    laneOrder.forEach(function (key) {
      var track = el("div", { className: "track" });
      lanes[key].forEach(function (t) {
        var bar = el("div", { className: "bar " + category(t), "data-id": t.id });
        bar.style.left = (100 * t.start / span) + "%";
        bar.style.width = (100 * t.duration / span) + "%";
        var hover = t.id + " — " + seconds(t.duration) + " (" + category(t) + ")";
        bar.setAttribute("title", hover);
        bar.addEventListener("mousemove", function (event) {
          tooltip.textContent = hover;
          tooltip.style.display = "block";
          tooltip.style.left = Math.min(event.clientX + 12, window.innerWidth - 320) + "px";
          tooltip.style.top = (event.clientY + 14) + "px";
        });
        bar.addEventListener("mouseleave", function () { tooltip.style.display = "none"; });
        bar.test = t;
        bars.push(bar);
        track.appendChild(bar);
      });
      timeline.appendChild(el("div", { className: "lane" },
        [el("div", { className: "lane-name", text: workerName(lanes[key][0]) }), track]));
    });
    var axis = el("div", { className: "axis" });
    for (var i = 0; i <= 4; i++) {
      var mark = el("span", { text: seconds(span * i / 4) });
      mark.style.left = (25 * i) + "%";
      if (i === 0) { mark.style.transform = "none"; }
      if (i === 4) { mark.style.transform = "translateX(-100%)"; }
      axis.appendChild(mark);
    }
    timeline.appendChild(axis);
  }
  main.appendChild(timeline);

  // --- failures, with traceback and captured output -------------------------
  var failing = tests.filter(function (t) { return t.outcome === "failed" || t.outcome === "error"; });
  main.appendChild(el("h2", { text: "Failures and errors (" + failing.length + ")" }));
  var failureBox = el("div", { id: "failures" });
  if (!failing.length) { failureBox.appendChild(el("div", { className: "empty", text: "None." })); }
  failing.forEach(function (t, index) {
    var details = el("details", { className: "failure " + t.outcome, "data-outcome": category(t), "data-id": t.id });
    details.open = index < 5;
    details.appendChild(el("summary", null, [el("span", { className: "badge " + t.outcome, text: t.outcome }), " " + t.id]));
    if (t.message) { details.appendChild(el("div", { className: "message", text: t.message })); }
    [["traceback", t.traceback], ["captured stdout", t.stdout], ["captured stderr", t.stderr]].forEach(function (part) {
      if (part[1]) {
        details.appendChild(el("div", { className: "label", text: part[0] }));
        details.appendChild(el("pre", { text: part[1] }));
      }
    });
    (t.warnings || []).forEach(function (w) { details.appendChild(el("div", { className: "label", text: "warning: " + w })); });
    failureBox.appendChild(details);
  });
  main.appendChild(failureBox);

  // --- slowest tests ---------------------------------------------------------
  var slowest = tests.slice().sort(function (a, b) { return b.duration - a.duration; }).slice(0, 10);
  main.appendChild(el("h2", { text: "Slowest tests" }));
  var slowTable = el("table", { id: "slowest" }, [el("tr", null, [
    el("th", { className: "num", text: "duration" }), el("th", { text: "test" }), el("th", { text: "worker" })])]);
  slowest.forEach(function (t) {
    slowTable.appendChild(el("tr", null, [el("td", { className: "num", text: seconds(t.duration) }),
      el("td", { className: "id", text: t.id }), el("td", { text: workerName(t) })]));
  });
  main.appendChild(slowTable);

  // --- every test -------------------------------------------------------------
  main.appendChild(el("h2", { text: "Tests" }));
  main.appendChild(controls);
  var table = el("table", { id: "tests" });
  table.appendChild(el("tr", null, [el("th", { text: "outcome" }), el("th", { text: "test" }),
    el("th", { className: "num", text: "duration" }), el("th", { text: "worker" })]));
  var rows = [];
  tests.forEach(function (t) {
    var name = el("td", { className: "id", text: t.id });
    if (t.flaky) { name.appendChild(el("span", { className: "tag", text: "flaky" })); }
    if (t.attempts > 1) { name.appendChild(el("span", { className: "tag", text: "retried ×" + (t.attempts - 1) })); }
    if (t.alone === "passed") { name.appendChild(el("span", { className: "tag", text: "passes alone" })); }
    if (t.message && t.outcome !== "passed") { name.appendChild(el("div", { className: "label", text: t.message.split("\n")[0] })); }
    var row = el("tr", { className: "test", "data-outcome": category(t), "data-id": t.id }, [
      el("td", null, [el("span", { className: "badge " + category(t), text: category(t) })]),
      name, el("td", { className: "num", text: seconds(t.duration) }), el("td", { text: workerName(t) })]);
    rows.push(row);
    table.appendChild(row);
  });
  main.appendChild(table);
  var footer = el("footer", { text: "Written by dbtest " + (run.dbtest_version || "") + ". Self-contained: no network needed." });
  app.appendChild(footer);

  function visible(outcome, id, needle) {
    return shown[outcome] && (!needle || id.toLowerCase().indexOf(needle) !== -1);
  }

  function applyFilter() {
    var needle = search.value.trim().toLowerCase();
    rows.forEach(function (row) { row.hidden = !visible(row.getAttribute("data-outcome"), row.getAttribute("data-id"), needle); });
    bars.forEach(function (bar) {
      bar.classList.toggle("dim", !visible(category(bar.test), bar.test.id, needle));
    });
    Array.prototype.forEach.call(failureBox.querySelectorAll("details"), function (d) {
      d.hidden = !visible(d.getAttribute("data-outcome"), d.getAttribute("data-id"), needle);
    });
  }
  Array.prototype.forEach.call(countRow.querySelectorAll(".count[data-outcome]"), function (chip) {
    chip.style.cursor = "pointer";
    chip.title = "Show only these";
    chip.addEventListener("click", function () {
      var only = chip.getAttribute("data-outcome");
      OUTCOMES.forEach(function (o) {
        shown[o] = o === only;
        document.getElementById("filter-" + o).checked = shown[o];
      });
      applyFilter();
    });
  });
  document.documentElement.setAttribute("data-ready", "true");
})();
