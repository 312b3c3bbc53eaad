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

  function config(spec) {
    var datasets = spec.datasets.map(function (d, i) {
      var c = color(d.label, i);
      return { label: d.label, data: d.data, borderColor: c, backgroundColor: c + (spec.type === "bar" ? "cc" : "33"),
               borderWidth: 2, pointRadius: 3, spanGaps: true, tension: 0 };
    });
    var xScale = { type: spec.x.type, title: { display: true, text: spec.x.title } };
    return {
      type: spec.type,
      data: spec.labels ? { labels: spec.labels, datasets: datasets } : { datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" } },
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
