// hypersweep report: draws the study embedded in #hs-data.
// Self-contained on purpose: no library, no request; the page works offline.
//
// Scale: a study may hold 50,000 trials. Every dense view therefore draws its
// marks (points, curves, parallel-coordinate lines) on a <canvas> under an
// SVG of axes and labels, and finds the trial under the pointer itself; the
// trial table renders only the rows in view. The DOM stays a few hundred
// elements whatever the study's size.
//
// The same script runs the live dashboard: `window.hypersweepReport.apply`
// merges the trials that changed and draws every view again.
(function () {
  'use strict';
  var errors = 0;
  function fail(where, e) {
    errors++;
    var div = document.createElement('div');
    div.className = 'js-error';
    div.textContent = where + ': ' + (e && e.message ? e.message : e);
    document.body.appendChild(div);
    if (window.console) console.error(where, e);
  }
  window.addEventListener('error', function (ev) { fail('script', ev.message); });

  function num(v) {
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'inf') return Infinity;
    if (v === '-inf') return -Infinity;
    return null;
  }
  function fin(x) { return typeof x === 'number' && isFinite(x); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v !== 'number') return String(v);
    if (!isFinite(v)) return String(v);
    if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(3);
    return String(Math.round(v * 1e4) / 1e4);
  }
  function dur(ms) {
    if (!fin(ms)) return '';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(2) + ' h';
  }
  function pval(v) { return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v); }
  function better(a, b) { return MIN ? a < b : a > b; }

  // ---- the data: D as embedded (or as last merged), and what is derived ----
  var D, MIN, trials, byN, done, t0, axes, importance;
  // Converted trials by their raw object: a live update converts only the
  // trials it brought.
  var converted = new WeakMap();
  function trialOf(t) {
    var c = converted.get(t);
    if (!c) { c = convert(t); converted.set(t, c); }
    return c;
  }
  function convert(t) {
    return {
      n: t.n, state: t.s, value: num(t.v), params: t.p || {},
      inter: t.iv ? t.iv.map(function (v, k) { return [t.i0 + k, num(v)]; })
        : (t.i || []).map(function (p) { return [p[0], num(p[1])]; }),
      t0: t.t0, t1: t.t1, dur: t.t1 != null ? t.t1 - t.t0 : null,
      error: t.e || '', log: t.log || '', device: t.d || ''
    };
  }
  function load(data) {
    D = data;
    MIN = D.study.goal !== 'maximize';
    trials = D.trials.map(trialOf);
    byN = {};
    trials.forEach(function (t) { byN[t.n] = t; });
    done = trials.filter(function (t) { return t.state === 'complete' && fin(t.value); });
    t0 = trials.reduce(function (m, t) { return Math.min(m, t.t0); }, Infinity);
    axes = D.params.filter(function (p) { return p.domain.type !== 'const'; }).map(axisOf);
    importance = (D.importance && D.importance.params) || [];
  }
  function label(t) {
    return 'trial ' + t.n + ' (' + t.state + ')\nvalue ' + fmt(t.value) +
      Object.keys(t.params).map(function (k) { return '\n' + k + ' = ' + pval(t.params[k]); }).join('');
  }

  // ---- scales and axes ----
  var M = { l: 64, r: 12, t: 10, b: 36 };
  function extent(xs) {
    var lo = Infinity, hi = -Infinity;
    xs.forEach(function (x) { if (fin(x)) { if (x < lo) lo = x; if (x > hi) hi = x; } });
    if (lo > hi) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    return [lo, hi];
  }
  function scale(dom, r0, r1, log) {
    var f = log ? Math.log : function (x) { return x; };
    var a = f(dom[0]), b = f(dom[1]);
    return function (v) { return r0 + (f(v) - a) / (b - a) * (r1 - r0); };
  }
  function ticks(dom, n, log) {
    var out = [], i;
    if (log) {
      for (i = Math.floor(Math.log10(dom[0])); i <= Math.ceil(Math.log10(dom[1])); i++) {
        var v = Math.pow(10, i);
        if (v >= dom[0] && v <= dom[1]) out.push(v);
      }
      if (out.length >= 2) return out;
    }
    for (i = 0; i <= n; i++) out.push(dom[0] + (dom[1] - dom[0]) * i / n);
    return out;
  }
  // A frame: {x, y, svg} with x and y scales over the given domains. `cats`
  // replaces numeric x ticks by category labels at 0..k-1.
  function frame(w, h, xd, yd, o) {
    o = o || {};
    var x = scale(xd, M.l, w - M.r, o.xlog), y = scale(yd, h - M.b, M.t, o.ylog);
    var s = '<g class="axis"><line x1="' + M.l + '" x2="' + (w - M.r) + '" y1="' + (h - M.b) + '" y2="' + (h - M.b) + '"/>' +
      '<line x1="' + M.l + '" x2="' + M.l + '" y1="' + M.t + '" y2="' + (h - M.b) + '"/>';
    if (o.cats) {
      o.cats.forEach(function (c, i) {
        s += '<text x="' + x(i) + '" y="' + (h - M.b + 14) + '" text-anchor="middle">' + esc(pval(c)).slice(0, 12) + '</text>';
      });
    } else {
      ticks(xd, 4, o.xlog).forEach(function (v) {
        s += '<text x="' + x(v) + '" y="' + (h - M.b + 14) + '" text-anchor="middle">' + fmt(v) + '</text>';
      });
    }
    ticks(yd, 4, o.ylog).forEach(function (v) {
      s += '<text x="' + (M.l - 4) + '" y="' + (y(v) + 4) + '" text-anchor="end">' + fmt(v) + '</text>';
    });
    s += '<text x="' + ((M.l + w - M.r) / 2) + '" y="' + (h - 4) + '" text-anchor="middle">' + esc(o.xlabel || '') + '</text>';
    s += '<text transform="translate(12,' + ((M.t + h - M.b) / 2) + ') rotate(-90)" text-anchor="middle">' + esc(o.ylabel || '') + '</text></g>';
    return { x: x, y: y, svg: s };
  }
  function svg(w, h, inner, attrs) {
    return '<svg class="chart" width="' + w + '" height="' + h + '"' + (attrs || '') + '>' + inner + '</svg>';
  }
  function body(id) { return document.querySelector('#' + id + ' .body'); }
  function controls(id) { return document.querySelector('#' + id + ' .controls'); }

  // ---- canvas plots: marks on a canvas, axes in an SVG over it ----
  // A mark is {t: trial, xy: [x0, y0, x1, y1, ...], line: bool, style}.
  // Marks are drawn in batches of one style, in the order of STYLES (the
  // best last, on top); hovering finds the nearest mark, clicking selects
  // its trial in the table.
  var STYLES = {
    dim: { stroke: 'rgba(190,190,190,0.25)', fill: 'rgba(190,190,190,0.3)', width: 1 },
    complete: { stroke: 'rgba(30,136,229,0.45)', fill: 'rgba(30,136,229,0.7)', width: 1 },
    pruned: { stroke: 'rgba(251,140,0,0.45)', fill: 'rgba(251,140,0,0.8)', width: 1, dash: [4, 3] },
    failed: { stroke: 'rgba(229,57,53,0.45)', fill: 'rgba(229,57,53,0.8)', width: 1 },
    running: { stroke: 'rgba(142,36,170,0.7)', fill: 'rgba(142,36,170,0.8)', width: 1.5 },
    best: { stroke: '#2e7d32', fill: '#2e7d32', width: 3, outline: '#000' }
  };
  var ORDER = ['dim', 'complete', 'pruned', 'failed', 'running', 'best'];
  // Above this many marks a plot of points draws them as deduplicated squares.
  var DENSE = 5000;
  function styleOf(t) { return t.n === D.best ? 'best' : t.state; }
  var plots = [];
  // The HTML of a plot (append to a section, then call activate on it).
  function plot(w, h, axesSvg, marks, o) {
    o = o || {};
    var k = plots.length;
    plots.push({ marks: marks, w: w, h: h, r: o.r || 3, pick: o.pick !== false });
    return '<div class="plot" style="width:' + w + 'px;height:' + h + 'px"><canvas data-plot="' + k + '" data-marks="' +
      marks.length + '" width="' + w + '" height="' + h + '"></canvas>' + svg(w, h, axesSvg, ' data-plot-axes="' + k + '"') + '</div>';
  }
  function activate(el) {
    Array.prototype.forEach.call(el.querySelectorAll('canvas[data-plot]'), function (c) {
      var p = plots[+c.getAttribute('data-plot')];
      p.canvas = c;
      paint(p);
      var box = c.parentNode;
      box.addEventListener('mousemove', function (ev) { hover(p, ev); });
      box.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
      box.addEventListener('click', function (ev) {
        var m = nearest(p, ev);
        if (m) select(m.t.n);
      });
    });
  }
  function paint(p) {
    var c = p.canvas, ratio = window.devicePixelRatio || 1;
    c.width = p.w * ratio; c.height = p.h * ratio;
    c.style.width = p.w + 'px'; c.style.height = p.h + 'px';
    var g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, p.w, p.h);
    // Many points (a slice plot of a 50,000-trial study) are squares, and
    // of the points of one style that fall on the same 2-pixel cell only
    // one is drawn: the picture is the same, the browser rasterises a few
    // thousand marks instead of 50,000 circles. Hovering still finds every
    // trial.
    var dense = p.marks.length > DENSE, cell = 2, gw = Math.ceil(p.w / cell) + 1;
    ORDER.forEach(function (s) {
      var st = STYLES[s], lines = false, pts = false, seen = dense ? new Uint8Array(gw * (Math.ceil(p.h / cell) + 1)) : null;
      g.beginPath();
      p.marks.forEach(function (m) {
        if (m.style !== s) return;
        var xy = m.xy, i;
        if (m.line) {
          lines = true;
          g.moveTo(xy[0], xy[1]);
          for (i = 2; i < xy.length; i += 2) g.lineTo(xy[i], xy[i + 1]);
        } else if (dense && s !== 'best') {
          var k = Math.floor(xy[1] / cell) * gw + Math.floor(xy[0] / cell);
          if (k < 0 || k >= seen.length || seen[k]) return;
          seen[k] = 1;
          pts = true;
          g.rect(xy[0] - p.r + 0.5, xy[1] - p.r + 0.5, 2 * p.r - 1, 2 * p.r - 1);
        } else {
          pts = true;
          g.moveTo(xy[0] + p.r, xy[1]);
          g.arc(xy[0], xy[1], s === 'best' ? p.r + 1.5 : p.r, 0, 2 * Math.PI);
        }
      });
      if (lines) {
        g.setLineDash(st.dash || []);
        g.lineWidth = st.width; g.strokeStyle = st.stroke; g.stroke();
        g.setLineDash([]);
      }
      if (pts) {
        g.fillStyle = st.fill; g.fill();
        if (st.outline) { g.lineWidth = 1; g.strokeStyle = st.outline; g.stroke(); }
      }
    });
  }
  function segDist2(px, py, ax, ay, bx, by) {
    var dx = bx - ax, dy = by - ay, l = dx * dx + dy * dy, u = l ? ((px - ax) * dx + (py - ay) * dy) / l : 0;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    var x = ax + u * dx - px, y = ay + u * dy - py;
    return x * x + y * y;
  }
  // The mark nearest the pointer within a few pixels; marks not dimmed first.
  function nearest(p, ev) {
    if (!p.pick) return null;
    var r = p.canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
    var best = null, bd = 36, dimOk = null, dd = 36;
    p.marks.forEach(function (m) {
      var xy = m.xy, d = Infinity, i;
      if (m.line) {
        for (i = 2; i < xy.length; i += 2) {
          var lo = Math.min(xy[i - 2], xy[i]) - 6, hi = Math.max(xy[i - 2], xy[i]) + 6;
          if (px < lo || px > hi) continue;
          d = Math.min(d, segDist2(px, py, xy[i - 2], xy[i - 1], xy[i], xy[i + 1]));
        }
        if (xy.length === 2) d = (xy[0] - px) * (xy[0] - px) + (xy[1] - py) * (xy[1] - py);
      } else {
        d = (xy[0] - px) * (xy[0] - px) + (xy[1] - py) * (xy[1] - py);
      }
      if (m.style === 'dim') { if (d < dd) { dd = d; dimOk = m; } } else if (d < bd || (d === bd && m.style === 'best')) { bd = d; best = m; }
    });
    return best || dimOk;
  }
  var tip = document.createElement('div');
  tip.className = 'tip';
  tip.id = 'hs-tip';
  document.body.appendChild(tip);
  function hover(p, ev) {
    var m = nearest(p, ev);
    if (!m) { tip.style.display = 'none'; return; }
    tip.textContent = label(m.t);
    tip.style.display = 'block';
    tip.style.left = (ev.clientX + 14) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  }

  // ---- study summary ----
  function summary() {
    var s = D.study, c = D.counts, best = D.best != null ? byN[D.best] : null;
    var rows = [
      ['study', s.name], ['metric', s.metric + ' (' + s.goal + ')'], ['searcher', s.searcher],
      ['pruner', s.pruner], ['budget', s.budget != null ? s.budget + ' trials' : 'no limit'],
      ['parallel', s.parallel],
      ['trials', c.total + ' total: ' + c.complete + ' complete, ' + c.pruned + ' pruned, ' + c.failed + ' failed, ' + c.running + ' running'],
      ['wall time', D.wall_ms != null ? dur(D.wall_ms) : 'none yet'],
      ['created', new Date(s.created_ms).toISOString()],
      ['best', best ? 'trial ' + best.n + ': ' + s.metric + ' = ' + fmt(best.value) + ' ' + JSON.stringify(best.params) : 'none yet']
    ];
    if (s.revisions && s.revisions.length) {
      rows.push(['revisions', s.revisions.map(function (r) { return r.differences.join('; '); }).join(' | ')]);
    }
    var el = body('summary'), open = el.querySelector('details[open]') !== null;
    el.innerHTML = '<table class="kv">' + rows.map(function (r) {
      return '<tr><td>' + esc(r[0]) + '</td><td>' + esc(r[1]) + '</td></tr>';
    }).join('') + '</table><details' + (open ? ' open' : '') + '><summary>sweep spec</summary><pre>' + esc(JSON.stringify(s.spec, null, 2)) + '</pre></details>';
  }

  // ---- optimization history ----
  var historyBy = 'number';
  function history() {
    var c = controls('history');
    c.innerHTML = 'x: <button data-by="number">trial number</button> <button data-by="time">time</button>';
    Array.prototype.forEach.call(c.querySelectorAll('button'), function (b) {
      b.className = b.getAttribute('data-by') === historyBy ? 'on' : '';
      b.onclick = function () { historyBy = b.getAttribute('data-by'); guard('history', history); };
    });
    var pts = trials.filter(function (t) { return fin(t.value) && t.state !== 'running'; });
    if (!pts.length) { body('history').innerHTML = '<p class="note">No trial with a value yet.</p>'; return; }
    var X = historyBy === 'number' ? function (t) { return t.n; } : function (t) { return ((t.t1 || t.t0) - t0) / 1000; };
    var w = 760, h = 320;
    var f = frame(w, h, extent(pts.map(X)), extent(pts.map(function (t) { return t.value; })),
      { xlabel: historyBy === 'number' ? 'trial' : 'seconds since the first trial', ylabel: D.study.metric });
    var s = f.svg;
    var ordered = done.slice().sort(function (a, b) { return X(a) - X(b); });
    var bestSoFar = null, line = '';
    ordered.forEach(function (t) {
      if (bestSoFar === null || better(t.value, bestSoFar)) {
        if (bestSoFar !== null) line += ' L' + f.x(X(t)) + ',' + f.y(bestSoFar);
        bestSoFar = t.value;
      }
      line += (line ? ' L' : 'M') + f.x(X(t)) + ',' + f.y(bestSoFar);
    });
    if (line) s += '<path class="bestline" d="' + line + '"></path>';
    var marks = pts.map(function (t) { return { t: t, xy: [f.x(X(t)), f.y(t.value)], style: styleOf(t) }; });
    body('history').innerHTML = plot(w, h, s, marks) +
      '<div class="legend"><span><i style="background:#1e88e5"></i>complete</span><span><i style="background:#fb8c00"></i>pruned (last value)</span><span><i style="background:#2e7d32"></i>best so far</span></div>';
    activate(body('history'));
  }

  // ---- learning curves ----
  function curves() {
    var withCurves = trials.filter(function (t) { return t.inter.some(function (p) { return fin(p[1]); }); });
    if (!withCurves.length) { body('curves').innerHTML = '<p class="note">No trial reported intermediate values.</p>'; return; }
    var slo = Infinity, shi = -Infinity, vlo = Infinity, vhi = -Infinity;
    withCurves.forEach(function (t) {
      t.inter.forEach(function (p) {
        if (!fin(p[1])) return;
        if (p[0] < slo) slo = p[0]; if (p[0] > shi) shi = p[0];
        if (p[1] < vlo) vlo = p[1]; if (p[1] > vhi) vhi = p[1];
      });
    });
    var w = 760, h = 320, f = frame(w, h, extent([slo, shi]), extent([vlo, vhi]), { xlabel: 'step', ylabel: D.study.metric });
    var marks = withCurves.map(function (t) {
      var xy = [];
      t.inter.forEach(function (p) { if (fin(p[1])) xy.push(f.x(p[0]), f.y(p[1])); });
      return { t: t, xy: xy, line: true, style: styleOf(t) };
    });
    body('curves').innerHTML = plot(w, h, f.svg, marks) +
      '<div class="legend"><span><i style="background:#1e88e5"></i>complete</span><span><i style="background:#fb8c00"></i>pruned (dashed)</span><span><i style="background:#e53935"></i>failed</span><span><i style="background:#8e24aa"></i>running</span><span><i style="background:#2e7d32;height:4px"></i>best</span></div>';
    activate(body('curves'));
  }

  // ---- param axes: every param as a coordinate in [0, 1] ----
  function axisOf(p) {
    var d = p.domain, vals = trials.map(function (t) { return t.params[p.name]; }).filter(function (v) { return v !== undefined; });
    if (d.type === 'categorical' || d.type === 'const' || vals.some(function (v) { return typeof v !== 'number'; })) {
      var cats = d.type === 'categorical' ? d.choices.slice() : [], where = {};
      cats.forEach(function (c, i) { where[JSON.stringify(c)] = i; });
      vals.forEach(function (v) { var k = JSON.stringify(v); if (!(k in where)) { where[k] = cats.length; cats.push(v); } });
      var at = function (v) { var i = where[JSON.stringify(v)]; return i === undefined ? null : i; };
      return {
        name: p.name, cats: cats, log: false,
        pos: function (v) { var i = at(v); return i === null ? null : (cats.length > 1 ? i / (cats.length - 1) : 0.5); },
        index: at
      };
    }
    var log = !!d.log && vals.every(function (v) { return v > 0; });
    var dom = d.low !== undefined && d.high !== undefined ? [d.low, d.high] : extent(vals);
    vals.forEach(function (v) { if (v < dom[0]) dom[0] = v; if (v > dom[1]) dom[1] = v; });
    if (dom[0] === dom[1]) dom = [dom[0] - 0.5, dom[1] + 0.5];
    if (log && dom[0] <= 0) log = false;
    var u = scale(dom, 0, 1, log);
    return { name: p.name, dom: dom, log: log, pos: function (v) { return typeof v === 'number' ? u(v) : null; } };
  }

  // ---- parallel coordinates with brushes ----
  var brushes = {}; // axis name (or the metric, as '') -> [lo, hi] in [0, 1]
  var valueAxis = null;
  function coord(t, a) { return a === valueAxis ? a.pos(t.value) : a.pos(t.params[a.name]); }
  function brushKey(a) { return a === valueAxis ? '' : 'p:' + a.name; }
  function passes(t) {
    for (var k in brushes) {
      var b = brushes[k], a = k === '' ? valueAxis : axes.filter(function (x) { return 'p:' + x.name === k; })[0];
      if (!a) continue;
      var u = coord(t, a);
      if (u === null || u === undefined || u < b[0] || u > b[1]) return false;
    }
    return true;
  }
  function brushed() { return Object.keys(brushes).length > 0; }
  var pc = null, drag = null;
  function parallel() {
    var el = body('parallel');
    if (!done.length || !axes.length) { el.innerHTML = '<p class="note">No completed trial yet.</p>'; valueAxis = null; return; }
    var vd = extent(done.map(function (t) { return t.value; }));
    var vs = scale(vd, 0, 1, false);
    valueAxis = { name: D.study.metric, dom: vd, pos: function (v) { return fin(v) ? vs(v) : null; } };
    var all = axes.concat([valueAxis]);
    var w = Math.max(400, 120 * all.length), h = 340, top = 24, bot = 30;
    var X = function (i) { return 50 + i * (w - 100) / Math.max(1, all.length - 1); };
    var Y = function (u) { return h - bot - u * (h - bot - top); };
    var s = '', marks = [];
    done.forEach(function (t) {
      var xy = [];
      all.forEach(function (a, i) {
        var u = coord(t, a);
        if (u !== null && u !== undefined) xy.push(X(i), Y(u));
      });
      if (xy.length) marks.push({ t: t, xy: xy, line: true, style: passes(t) ? styleOf(t) : 'dim' });
    });
    all.forEach(function (a, i) {
      s += '<g class="axis"><line x1="' + X(i) + '" x2="' + X(i) + '" y1="' + Y(0) + '" y2="' + Y(1) + '"/>' +
        '<text x="' + X(i) + '" y="' + (top - 8) + '" text-anchor="middle">' + esc(a.name) + '</text>';
      if (a.cats) {
        a.cats.forEach(function (c, j) { s += '<text x="' + (X(i) + 4) + '" y="' + Y(a.cats.length > 1 ? j / (a.cats.length - 1) : 0.5) + '">' + esc(pval(c)).slice(0, 12) + '</text>'; });
      } else {
        s += '<text x="' + (X(i) + 4) + '" y="' + (Y(0) + 14) + '">' + fmt(a.dom[0]) + '</text><text x="' + (X(i) + 4) + '" y="' + (Y(1) - 2) + '">' + fmt(a.dom[1]) + '</text>';
      }
      var b = brushes[brushKey(a)];
      if (b) s += '<rect class="brush" x="' + (X(i) - 8) + '" width="16" y="' + Y(b[1]) + '" height="' + (Y(b[0]) - Y(b[1])) + '"/>';
      s += '<rect class="brusharea" data-axis="' + i + '" x="' + (X(i) - 10) + '" width="20" y="' + Y(1) + '" height="' + (Y(0) - Y(1)) + '"/></g>';
    });
    el.innerHTML = plot(w, h, s, marks);
    activate(el);
    pc = { root: el.querySelector('svg'), h: h, bot: bot, top: top, all: all };
    pc.root.addEventListener('mousedown', function (ev) {
      var a = ev.target.getAttribute && ev.target.getAttribute('data-axis');
      if (a === null || a === undefined) return;
      drag = { axis: pc.all[+a], from: uAt(ev) };
      ev.preventDefault();
    });
    pc.root.addEventListener('dblclick', function (ev) {
      var a = ev.target.getAttribute && ev.target.getAttribute('data-axis');
      if (a !== null && a !== undefined) { delete brushes[brushKey(pc.all[+a])]; guard('parallel', parallel); guard('table', table); }
    });
  }
  function uAt(ev) {
    var r = pc.root.getBoundingClientRect();
    return Math.min(1, Math.max(0, (pc.h - pc.bot - (ev.clientY - r.top)) / (pc.h - pc.bot - pc.top)));
  }
  window.addEventListener('mouseup', function (ev) {
    if (!drag) return;
    var to = uAt(ev), lo = Math.min(drag.from, to), hi = Math.max(drag.from, to), k = brushKey(drag.axis);
    if (hi - lo > 0.005) brushes[k] = [lo, hi]; else delete brushes[k];
    drag = null;
    guard('parallel', parallel);
    guard('table', table);
  });

  // ---- importance ----
  function importanceChart() {
    var el = body('importance');
    if (!importance.length) { el.innerHTML = '<p class="note">' + esc((D.importance && D.importance.error) || 'No param to rank.') + '</p>'; return; }
    var w = 760, rowH = 22, h = importance.length * rowH + 30, lw = 160, s = '';
    var max = importance.reduce(function (m, i) { return Math.max(m, i.share); }, 0) || 1;
    importance.forEach(function (imp, k) {
      var y = 10 + k * rowH, bw = (w - lw - 80) * imp.share / max;
      s += '<text x="' + (lw - 6) + '" y="' + (y + 14) + '" text-anchor="end">' + esc(imp.param) + '</text>' +
        '<rect class="bar" x="' + lw + '" y="' + y + '" width="' + Math.max(0, bw) + '" height="' + (rowH - 6) + '"><title>' +
        esc(imp.param + ': ' + (imp.share * 100).toFixed(1) + '% (Pearson divergence ' + fmt(imp.divergence) + ')') + '</title></rect>' +
        '<text x="' + (lw + bw + 6) + '" y="' + (y + 14) + '">' + (imp.share * 100).toFixed(1) + '%</text>';
    });
    el.innerHTML = svg(w, h, s) + '<p class="note">Share of the Pearson divergence between each param\'s distribution in the top 10% of completed trials and in all of them (PED-ANOVA, computed by hypersweep).</p>';
  }

  // ---- contour: binned mean value over the two most important params ----
  function contour() {
    var el = body('contour');
    var names = importance.map(function (i) { return i.param; });
    var two = names.map(function (n) { return axes.filter(function (a) { return a.name === n; })[0]; }).filter(Boolean).slice(0, 2);
    if (two.length < 2 || !done.length) { el.innerHTML = '<p class="note">Needs two ranked params and completed trials.</p>'; return; }
    // A categorical axis gets one cell per choice, an ordered one G cells.
    var G = 20, nx = two[0].cats ? two[0].cats.length : G, ny = two[1].cats ? two[1].cats.length : G;
    var bin = function (a, n, v) {
      if (a.cats) return a.index(v);
      var u = a.pos(v);
      return u === null ? null : Math.min(n - 1, Math.max(0, Math.floor(u * n)));
    };
    var at = function (a, n, v) { return a.cats ? (a.index(v) + 0.5) / n : a.pos(v); };
    var sum = [], cnt = [], i;
    for (i = 0; i < nx * ny; i++) { sum.push(0); cnt.push(0); }
    var pts = done.filter(function (t) { return bin(two[0], nx, t.params[two[0].name]) !== null && bin(two[1], ny, t.params[two[1].name]) !== null; });
    pts.forEach(function (t) {
      var k = bin(two[1], ny, t.params[two[1].name]) * nx + bin(two[0], nx, t.params[two[0].name]);
      sum[k] += t.value; cnt[k]++;
    });
    var means = [];
    for (i = 0; i < nx * ny; i++) if (cnt[i]) means.push(sum[i] / cnt[i]);
    var vd = extent(means), w = 420, h = 420, pw = w - M.l - M.r, ph = h - M.t - M.b, s = '';
    for (i = 0; i < nx * ny; i++) {
      if (!cnt[i]) continue;
      var q = (sum[i] / cnt[i] - vd[0]) / (vd[1] - vd[0]);
      if (!MIN) q = 1 - q;
      // Good is dark green, bad is pale.
      var col = 'hsl(' + (140 - 100 * q) + ',60%,' + (30 + 55 * q) + '%)';
      s += '<rect x="' + (M.l + (i % nx) * pw / nx) + '" y="' + (M.t + (ny - 1 - Math.floor(i / nx)) * ph / ny) + '" width="' + (pw / nx + 0.5) + '" height="' + (ph / ny + 0.5) +
        '" fill="' + col + '"><title>mean ' + esc(D.study.metric) + ' ' + fmt(sum[i] / cnt[i]) + ' over ' + cnt[i] + ' trial(s)</title></rect>';
    }
    s += '<g class="axis"><text x="' + (M.l + pw / 2) + '" y="' + (h - 4) + '" text-anchor="middle">' + esc(two[0].name) + axisRange(two[0]) + '</text>' +
      '<text transform="translate(12,' + (M.t + ph / 2) + ') rotate(-90)" text-anchor="middle">' + esc(two[1].name) + axisRange(two[1]) + '</text></g>';
    // The cells are drawn under the canvas of dots: the SVG goes first here.
    var marks = pts.map(function (t) {
      return { t: t, xy: [M.l + at(two[0], nx, t.params[two[0].name]) * pw, M.t + (1 - at(two[1], ny, t.params[two[1].name])) * ph], style: styleOf(t) };
    });
    el.innerHTML = '<div class="plot under" style="width:' + w + 'px;height:' + h + 'px">' + svg(w, h, s) + plot(w, h, '', marks, { r: 2 }) + '</div>' +
      '<p class="note">Mean ' + esc(D.study.metric) + ' of the completed trials in each of ' + nx + '×' + ny + ' cells (darker is better); dots are trials.</p>';
    activate(el);
  }
  function axisRange(a) { return a.cats ? ' (' + a.cats.map(pval).join(', ').slice(0, 40) + ')' : ' [' + fmt(a.dom[0]) + ', ' + fmt(a.dom[1]) + (a.log ? ', log' : '') + ']'; }

  // ---- slice plots ----
  function slices() {
    var el = body('slices');
    if (!done.length || !axes.length) { el.innerHTML = '<p class="note">No completed trial yet.</p>'; return; }
    var yd = extent(done.map(function (t) { return t.value; })), html = '';
    axes.forEach(function (a) {
      var w = 360, h = 260, pts = done.filter(function (t) { return t.params[a.name] !== undefined; }), f, X;
      if (a.cats) {
        f = frame(w, h, [-0.5, a.cats.length - 0.5], yd, { cats: a.cats, xlabel: a.name, ylabel: D.study.metric });
        X = function (t) { return f.x(a.index(t.params[a.name]) + ((t.n * 0.618) % 1 - 0.5) * 0.4); };
      } else {
        f = frame(w, h, a.dom, yd, { xlog: a.log, xlabel: a.name, ylabel: D.study.metric });
        X = function (t) { return f.x(t.params[a.name]); };
      }
      var marks = [];
      pts.forEach(function (t) {
        var x = X(t);
        if (fin(x)) marks.push({ t: t, xy: [x, f.y(t.value)], style: styleOf(t) });
      });
      html += plot(w, h, f.svg, marks, { r: 2.5 });
    });
    el.innerHTML = html;
    activate(el);
  }

  // ---- the trial table: sorted and filtered in memory, only the rows in view in the DOM ----
  var sortKey = 'n', sortAsc = true, states = { complete: true, pruned: true, failed: true, running: true }, text = '', selected = null;
  var ROW_H = 22, rows = [], cols = [];
  function columns() {
    cols = [
      { k: 'n', h: '#', get: function (t) { return t.n; } },
      { k: 'state', h: 'state', get: function (t) { return t.state; } },
      { k: 'value', h: 'value', get: function (t) { return t.value; }, show: fmt },
      { k: 'dur', h: 'duration', get: function (t) { return t.dur; }, show: dur },
      { k: 'steps', h: 'last step', get: function (t) { return t.inter.length ? t.inter[t.inter.length - 1][0] : null; } }
    ].concat(D.params.map(function (p) {
      return { k: 'p:' + p.name, h: p.name, get: function (t) { var v = t.params[p.name]; return v === undefined ? null : v; }, show: function (v) { return v === null ? '' : typeof v === 'number' ? fmt(v) : pval(v); } };
    })).concat([
      { k: 'error', h: 'error', get: function (t) { return t.error; } },
      { k: 'log', h: 'log file', get: function (t) { return t.log; } }
    ]);
  }
  function cmp(a, b) {
    var an = a === null || a === undefined || (typeof a === 'number' && isNaN(a)), bn = b === null || b === undefined || (typeof b === 'number' && isNaN(b));
    if (an || bn) return an - bn;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return pval(a) < pval(b) ? -1 : pval(a) > pval(b) ? 1 : 0;
  }
  function tableControls() {
    var c = controls('table');
    c.innerHTML = Object.keys(states).map(function (s) {
      return '<label><input type="checkbox" data-state="' + s + '" checked> ' + s + ' (<span data-count="' + s + '"></span>)</label>';
    }).join('') + '<label>filter <input type="search" id="hs-filter" placeholder="text in any cell"></label><span class="note" id="hs-shown"></span>';
    Array.prototype.forEach.call(c.querySelectorAll('input[data-state]'), function (i) {
      i.onchange = function () { states[i.getAttribute('data-state')] = i.checked; guard('table', table); };
    });
    document.getElementById('hs-filter').oninput = function (ev) { text = ev.target.value.toLowerCase(); guard('table', table); };
    body('table').innerHTML = '<div class="tablewrap" id="hs-wrap"><table class="trials"><thead></thead><tbody></tbody></table></div>';
    var wrap = document.getElementById('hs-wrap'), pending = false;
    wrap.addEventListener('scroll', function () {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () { pending = false; guard('table', visibleRows); });
    });
    wrap.querySelector('thead').addEventListener('click', function (ev) {
      var th = ev.target.closest('th');
      if (!th) return;
      var k = th.getAttribute('data-key');
      if (k === sortKey) sortAsc = !sortAsc; else { sortKey = k; sortAsc = true; }
      guard('table', table);
    });
    wrap.querySelector('tbody').addEventListener('click', function (ev) {
      var tr = ev.target.closest('tr[data-n]');
      if (tr) { selected = +tr.getAttribute('data-n'); visibleRows(); }
    });
  }
  function table() {
    columns();
    Object.keys(states).forEach(function (s) {
      var el = document.querySelector('[data-count="' + s + '"]');
      if (el) el.textContent = D.counts[s];
    });
    var col = cols.filter(function (c) { return c.k === sortKey; })[0] || cols[0];
    var brush = brushed() && valueAxis !== null;
    rows = trials.filter(function (t) {
      if (!states[t.state]) return false;
      if (brush && !passes(t)) return false;
      if (text) {
        var hay = cols.map(function (c) { return pval(c.get(t)); }).join(' ').toLowerCase();
        if (hay.indexOf(text) < 0) return false;
      }
      return true;
    });
    var keyed = rows.map(function (t, i) { return { t: t, k: col.get(t), i: i }; });
    keyed.sort(function (a, b) { var r = cmp(a.k, b.k); return (sortAsc ? r : -r) || a.i - b.i; });
    rows = keyed.map(function (x) { return x.t; });
    document.getElementById('hs-shown').textContent = rows.length + ' of ' + trials.length + ' trials match' + (brush ? ' (brushed in parallel coordinates)' : '');
    document.querySelector('#hs-wrap thead').innerHTML = '<tr>' + cols.map(function (c) {
      return '<th data-key="' + esc(c.k) + '">' + esc(c.h) + (c.k === sortKey ? (sortAsc ? ' ▲' : ' ▼') : '') + '</th>';
    }).join('') + '</tr>';
    document.body.setAttribute('data-table-rows', String(rows.length));
    visibleRows();
  }
  // Renders the rows in view (and a screen's worth around them), with
  // spacer rows that keep the scroll height of the whole list.
  function visibleRows() {
    var wrap = document.getElementById('hs-wrap');
    var view = wrap.clientHeight || 600, first = Math.max(0, Math.floor(wrap.scrollTop / ROW_H) - 20);
    var last = Math.min(rows.length, first + Math.ceil(view / ROW_H) + 40);
    var html = first ? '<tr class="spacer" style="height:' + first * ROW_H + 'px"><td colspan="' + cols.length + '"></td></tr>' : '';
    for (var r = first; r < last; r++) {
      var t = rows[r];
      html += '<tr data-n="' + t.n + '" class="' + (t.n === D.best ? 'best' : '') + (t.n === selected ? ' selected' : '') + '">' + cols.map(function (c) {
        var v = c.get(t), txt = c.show ? c.show(v) : (v === null || v === undefined ? '' : pval(v));
        return '<td' + (c.k === 'state' ? ' class="state-' + t.state + '"' : '') + ' title="' + esc(txt) + '">' + esc(txt) + '</td>';
      }).join('') + '</tr>';
    }
    if (last < rows.length) html += '<tr class="spacer" style="height:' + (rows.length - last) * ROW_H + 'px"><td colspan="' + cols.length + '"></td></tr>';
    wrap.querySelector('tbody').innerHTML = html;
  }
  // Selects a trial (a click on a mark): highlighted and scrolled to in the table.
  function select(n) {
    selected = n;
    var i = rows.indexOf(byN[n]), wrap = document.getElementById('hs-wrap');
    if (i >= 0) wrap.scrollTop = Math.max(0, i * ROW_H - wrap.clientHeight / 2);
    visibleRows();
    var row = wrap.querySelector('tr[data-n="' + n + '"]');
    if (row) row.scrollIntoView({ block: 'center' });
  }

  function guard(where, f) { try { f(); } catch (e) { fail(where, e); } }
  function renderAll() {
    var started = performance.now();
    plots = [];
    [['summary', summary], ['history', history], ['curves', curves], ['parallel', parallel],
      ['importance', importanceChart], ['contour', contour], ['slices', slices], ['table', table]
    ].forEach(function (s) { guard(s[0], s[1]); });
    var drawn = document.querySelectorAll('main svg').length + document.querySelectorAll('main canvas').length;
    document.body.setAttribute('data-rendered', String(drawn));
    document.body.setAttribute('data-canvases', String(document.querySelectorAll('main canvas').length));
    document.body.setAttribute('data-errors', String(errors));
    document.body.setAttribute('data-trials', String(trials.length));
    document.body.setAttribute('data-render-ms', String(Math.round(performance.now() - started)));
  }

  // Merges a change set of the live dashboard: `head` replaces the study's
  // summary (counts, best, importance, ...), `trials` replaces or adds the
  // trials of those numbers.
  function apply(delta) {
    var at = {};
    D.trials.forEach(function (t, i) { at[t.n] = i; });
    if (delta.head) Object.keys(delta.head).forEach(function (k) { D[k] = delta.head[k]; });
    (delta.trials || []).forEach(function (t) {
      if (at[t.n] === undefined) { at[t.n] = D.trials.length; D.trials.push(t); } else D.trials[at[t.n]] = t;
    });
    D.trials.sort(function (a, b) { return a.n - b.n; });
    load(D);
    renderAll();
  }

  guard('data', function () { load(JSON.parse(document.getElementById('hs-data').textContent)); });
  guard('table', tableControls);
  renderAll();
  // From the start of navigation to the drawn page (download, parse, draw).
  document.body.setAttribute('data-open-ms', String(Math.round(performance.now())));
  window.hypersweepReport = { apply: apply, data: function () { return D; } };
})();
