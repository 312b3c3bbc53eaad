// Draws every chart spec in #chart-data with Chart.js, then records how many really rendered
// (a canvas with painted pixels) in <html data-charts-rendered>, which the browser test reads.
(function () {
  "use strict";
  var COLORS = { iptables: "#0969da", nftables: "#bc4c00", ipvs: "#1a7f37", ebpf: "#8250df" };
  var EXTRA = ["#cf222e", "#57606a", "#bf8700", "#1b7c83"];
  function color(mode, i) { return COLORS[mode] || EXTRA[i % EXTRA.length]; }

  function painted(canvas) {
    var ctx = canvas.getContext("2d");
    if (!canvas.width || !canvas.height) return false;
    var px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (var i = 3; i < px.length; i += 4) { if (px[i] !== 0) return true; }
    return false;
  }

  // A dataset's "interval" ([{x, lo, hi}], the 95% interval of the repeats) becomes a shaded band:
  // a low edge, then a high edge filled down to it (fill "-1" = the dataset just before). Band
  // edges are marked "band" and kept out of the legend and the tooltips.
  function band(d, c) {
    function edge(key, fill) {
      return { label: d.label + " 95% " + key, band: true, fill: fill, borderColor: c + "55", backgroundColor: c + "22",
               borderWidth: 1, pointRadius: 0, pointHitRadius: 0, spanGaps: true, tension: 0,
               data: d.interval.map(function (p) { return { x: p.x, y: p[key] }; }) };
    }
    return [edge("lo", false), edge("hi", "-1")];
  }

  function config(spec) {
    var datasets = [];
    spec.datasets.forEach(function (d, i) {
      var c = color(d.label, i);
      datasets.push({ label: d.label, data: d.data, borderColor: c, backgroundColor: c + (spec.type === "bar" ? "cc" : "33"),
                      borderWidth: 2, pointRadius: 3, spanGaps: true, tension: 0 });
      if (spec.type === "line" && d.interval && d.interval.length) {
        datasets.push.apply(datasets, band(d, c));
      }
    });
    var xScale = { type: spec.x.type, title: { display: true, text: spec.x.title } };
    return {
      type: spec.type,
      data: spec.labels ? { labels: spec.labels, datasets: datasets } : { datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          legend: { position: "bottom", labels: { filter: function (item, data) { return !data.datasets[item.datasetIndex].band; } } },
          tooltip: { filter: function (item) { return !item.dataset.band; } }
        },
        scales: { x: xScale, y: { beginAtZero: true, title: { display: true, text: spec.y.title } } }
      }
    };
  }

  var specs = JSON.parse(document.getElementById("chart-data").textContent);
  var rendered = 0;
  specs.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    try {
      var chart = new Chart(canvas, config(spec));
      chart.draw();
      if (painted(canvas)) { rendered += 1; }
      else { console.error("chart " + spec.id + " drew nothing"); }
    } catch (err) {
      console.error("chart " + spec.id + " failed: " + err);
      canvas.insertAdjacentHTML("afterend", '<p class="chart-error">chart failed to render: ' + String(err).replace(/</g, "&lt;") + "</p>");
    }
  });
  document.documentElement.setAttribute("data-charts-rendered", String(rendered));
})();
