// The console's charts: one uPlot chart per metric, a line per group, from the page's JSON block.
// No build step: plain ES2017, loaded after the vendored uPlot (static/vendor/uPlot.iife.min.js).
(function () {
  "use strict";
  // A form that cannot be undone (revoking a key, issuing an invoice) asks first.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  var block = document.getElementById("chart-data");
  if (!block || typeof uPlot === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var palette = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#5c940d", "#e67700", "#495057"];
  var number = new Intl.NumberFormat(data.locale);
  var won = new Intl.NumberFormat(data.locale, { style: "currency", currency: "KRW", maximumFractionDigits: 0 });
  var smallWon = new Intl.NumberFormat(data.locale, { style: "currency", currency: "KRW", maximumFractionDigits: 2 });

  function format(metric, value) {
    if (value === null || value === undefined) { return "—"; }
    if (metric === "cost_krw") { return value < 100 ? smallWon.format(value) : won.format(Math.floor(value)); }
    if (metric === "p50_ms" || metric === "p99_ms") { return number.format(Math.round(value)) + " ms"; }
    return number.format(value);
  }

  function draw(holder) {
    var metric = holder.getAttribute("data-metric");
    var series = [{}];
    var columns = [data.buckets];
    data.groups.forEach(function (group, i) {
      series.push({
        label: group.name,
        stroke: palette[i % palette.length],
        width: 2,
        spanGaps: false,
        value: function (u, v) { return format(metric, v); }
      });
      columns.push(group.series[metric]);
    });
    var width = Math.max(320, holder.clientWidth - 24);
    var options = {
      width: width,
      height: 220,
      series: series,
      scales: { x: { time: true } },
      axes: [{}, { values: function (u, ticks) { return ticks.map(function (v) { return format(metric, v); }); }, size: 80 }],
      legend: { live: true }
    };
    new uPlot(options, columns, holder.querySelector(".plot"));
  }

  Array.prototype.forEach.call(document.querySelectorAll(".chart[data-metric]"), draw);
})();
