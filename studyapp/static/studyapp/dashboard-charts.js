// The dashboard's charts, drawn in the browser from the numbers the server sends as JSON
// (studyapp/dashboard.py makes them). Each <figure data-chart="URL"> gets one SVG. Text goes
// in through textContent and sizes through presentation attributes (no style attribute),
// so nothing the server sends is parsed as markup and the strict CSP holds.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 30, LABEL_W = 190, BAR_W = 420, TOP = 40;

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function withTitle(node, text) {
    node.appendChild(el("title", {}, text));
    return node;
  }

  function frame(width, height, title) {
    const svg = el("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title,
      "font-family": "sans-serif", "font-size": 12,
    });
    svg.appendChild(el("title", {}, title));
    svg.appendChild(el("text", { x: 0, y: 18, "font-weight": "bold" }, title));
    return svg;
  }

  function rowLabel(y, text) {
    return el("text", { x: LABEL_W - 8, y: y + 17, "text-anchor": "end" }, text);
  }

  function legend(svg, outcomes, y) {
    let x = LABEL_W;
    for (const outcome of outcomes) {
      svg.appendChild(el("rect", { x, y: y - 10, width: 12, height: 12, fill: outcome.colour }));
      svg.appendChild(el("text", { x: x + 16, y }, outcome.label));
      x += 24 + 7 * outcome.label.length;
    }
  }

  // Stacked horizontal bars of session outcomes per group, the target as a dashed line.
  function statusChart(data) {
    const scaleMax = Math.max(data.target, 1, ...data.groups.map((g) => g.started));
    const unit = BAR_W / scaleMax;
    const bottom = TOP + data.groups.length * ROW;
    const svg = frame(LABEL_W + BAR_W + 60, bottom + 40, data.title);
    data.groups.forEach((group, i) => {
      const y = TOP + i * ROW;
      svg.appendChild(rowLabel(y, group.label));
      let x = LABEL_W;
      for (const outcome of data.outcomes) {
        const n = group.counts[outcome.key];
        if (!n) continue;
        svg.appendChild(withTitle(el("rect", {
          x: x.toFixed(1), y: y + 4, width: (n * unit).toFixed(1), height: ROW - 8,
          fill: outcome.colour, "data-outcome": outcome.key,
        }), `${group.label}: ${n} ${outcome.label}`));
        x += n * unit;
      }
      svg.appendChild(el("text", { x: (x + 6).toFixed(1), y: y + 17 }, String(group.started)));
    });
    if (data.target) {
      const tx = (LABEL_W + data.target * unit).toFixed(1);
      svg.appendChild(withTitle(el("line", {
        x1: tx, y1: TOP - 4, x2: tx, y2: bottom, stroke: "#000", "stroke-dasharray": "4 3",
      }), `target ${data.target} per group`));
      svg.appendChild(el("text", { x: tx, y: TOP - 8, "text-anchor": "middle" }, `target ${data.target}`));
    }
    legend(svg, data.outcomes, bottom + 16);
    return svg;
  }

  // Horizontal bars of accuracy per condition with their intervals; chance is not drawn.
  function accuracyChart(data) {
    const bottom = TOP + data.rows.length * ROW;
    const svg = frame(LABEL_W + BAR_W + 90, bottom + 24, data.title);
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) { // grid first, so bars and intervals sit on top
      const x = (LABEL_W + tick * BAR_W).toFixed(1);
      svg.appendChild(el("line", { x1: x, y1: TOP, x2: x, y2: bottom, stroke: "#ccc" }));
      svg.appendChild(el("text", { x, y: bottom + 14, "text-anchor": "middle" }, `${tick * 100}%`));
    }
    data.rows.forEach((row, i) => {
      const y = TOP + i * ROW;
      svg.appendChild(rowLabel(y, row.label));
      if (row.n) {
        svg.appendChild(el("rect", {
          x: LABEL_W, y: y + 4, width: (row.accuracy * BAR_W).toFixed(1), height: ROW - 8,
          fill: "#0072B2", "fill-opacity": 0.6, "data-condition": row.label,
        }));
        svg.appendChild(el("line", {
          x1: (LABEL_W + row.low * BAR_W).toFixed(1), y1: y + 15,
          x2: (LABEL_W + row.high * BAR_W).toFixed(1), y2: y + 15, stroke: "#000", "stroke-width": 2,
        }));
      }
      svg.appendChild(el("text", { x: LABEL_W + BAR_W + 16, y: y + 17 }, `${row.correct}/${row.n}`));
    });
    return svg;
  }

  const DRAW = { status: statusChart, accuracy: accuracyChart };

  async function draw(figure) {
    try {
      const response = await fetch(figure.dataset.chart, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      figure.replaceChildren(DRAW[data.kind](data));
    } catch (err) {
      figure.textContent = `The chart could not be loaded (${err.message}); the table above has its numbers.`;
    }
  }

  document.querySelectorAll("figure[data-chart]").forEach(draw);
})();
