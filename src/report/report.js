// hypersweep report: draws the study embedded in #hs-data as SVG.
// Self-contained on purpose: no library, no request; the page works offline.
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

  var D = JSON.parse(document.getElementById('hs-data').textContent);
  var MIN = D.study.goal !== 'maximize';
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

  var trials = D.trials.map(function (t) {
    return {
      n: t.n, state: t.s, value: num(t.v), params: t.p || {},
      inter: (t.i || []).map(function (p) { return [p[0], num(p[1])]; }),
      t0: t.t0, t1: t.t1, dur: t.t1 != null ? t.t1 - t.t0 : null,
      error: t.e || '', log: t.log || '', device: t.d || ''
    };
  });
  var byN = {};
  trials.forEach(function (t) { byN[t.n] = t; });
  var done = trials.filter(function (t) { return t.state === 'complete' && fin(t.value); });
  var t0 = trials.reduce(function (m, t) { return Math.min(m, t.t0); }, Infinity);
  function label(t) {
    return 'trial ' + t.n + ' (' + t.state + ')\nvalue ' + fmt(t.value) +
      Object.keys(t.params).map(function (k) { return '\n' + k + ' = ' + pval(t.params[k]); }).join('');
  }
  function title(t) { return '<title>' + esc(label(t)) + '</title>'; }
  function cls(t) { return t.state + (t.n === D.best ? ' best' : ''); }

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
    body('summary').innerHTML = '<table class="kv">' + rows.map(function (r) {
      return '<tr><td>' + esc(r[0]) + '</td><td>' + esc(r[1]) + '</td></tr>';
    }).join('') + '</table><details><summary>sweep spec</summary><pre>' + esc(JSON.stringify(s.spec, null, 2)) + '</pre></details>';
  }

  // ---- optimization history ----
  var historyBy = 'number';
  function history() {
    var c = controls('history');
    c.innerHTML = 'x: <button data-by="number">trial number</button> <button data-by="time">time</button>';
    Array.prototype.forEach.call(c.querySelectorAll('button'), function (b) {
      b.className = b.getAttribute('data-by') === historyBy ? 'on' : '';
      b.onclick = function () { historyBy = b.getAttribute('data-by'); history(); };
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
    if (line) s += '<path class="bestline" d="' + line + '"><title>best so far</title></path>';
    pts.forEach(function (t) {
      s += '<circle class="pt ' + cls(t) + '" data-n="' + t.n + '" cx="' + f.x(X(t)) + '" cy="' + f.y(t.value) + '" r="3">' + title(t) + '</circle>';
    });
    body('history').innerHTML = svg(w, h, s) +
      '<div class="legend"><span><i style="background:#1e88e5"></i>complete</span><span><i style="background:#fb8c00"></i>pruned (last value)</span><span><i style="background:#2e7d32"></i>best so far</span></div>';
  }

  // ---- learning curves ----
  function curves() {
    var withCurves = trials.filter(function (t) { return t.inter.some(function (p) { return fin(p[1]); }); });
    if (!withCurves.length) { body('curves').innerHTML = '<p class="note">No trial reported intermediate values.</p>'; return; }
    var steps = [], vals = [];
    withCurves.forEach(function (t) { t.inter.forEach(function (p) { if (fin(p[1])) { steps.push(p[0]); vals.push(p[1]); } }); });
    var w = 760, h = 320, f = frame(w, h, extent(steps), extent(vals), { xlabel: 'step', ylabel: D.study.metric });
    var s = f.svg;
    // The best is drawn last, on top.
    withCurves.sort(function (a, b) { return (a.n === D.best) - (b.n === D.best); });
    withCurves.forEach(function (t) {
      var d = '';
      t.inter.forEach(function (p) { if (fin(p[1])) d += (d ? ' L' : 'M') + f.x(p[0]) + ',' + f.y(p[1]); });
      s += '<path class="curve ' + cls(t) + '" data-n="' + t.n + '" d="' + d + '">' + title(t) + '</path>';
    });
    body('curves').innerHTML = svg(w, h, s) +
      '<div class="legend"><span><i style="background:#1e88e5"></i>complete</span><span><i style="background:#fb8c00"></i>pruned (dashed)</span><span><i style="background:#e53935"></i>failed</span><span><i style="background:#2e7d32;height:4px"></i>best</span></div>';
  }

  // ---- param axes: every param as a coordinate in [0, 1] ----
  function axisOf(p) {
    var d = p.domain, vals = trials.map(function (t) { return t.params[p.name]; }).filter(function (v) { return v !== undefined; });
    if (d.type === 'categorical' || d.type === 'const' || vals.some(function (v) { return typeof v !== 'number'; })) {
      var cats = d.type === 'categorical' ? d.choices.slice() : [];
      vals.forEach(function (v) { if (!cats.some(function (c) { return JSON.stringify(c) === JSON.stringify(v); })) cats.push(v); });
      var key = cats.map(function (c) { return JSON.stringify(c); });
      return {
        name: p.name, cats: cats, log: false,
        pos: function (v) { var i = key.indexOf(JSON.stringify(v)); return i < 0 ? null : (cats.length > 1 ? i / (cats.length - 1) : 0.5); },
        index: function (v) { var i = key.indexOf(JSON.stringify(v)); return i < 0 ? null : i; }
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
  var axes = D.params.filter(function (p) { return p.domain.type !== 'const'; }).map(axisOf);

  // ---- parallel coordinates with brushes ----
  var brushes = {}; // axis index -> [lo, hi] in [0, 1]
  function passes(t) {
    for (var k in brushes) {
      var b = brushes[k], i = +k;
      var u = i < axes.length ? axes[i].pos(t.params[axes[i].name]) : valueAxis.pos(t.value);
      if (u === null || u === undefined || u < b[0] || u > b[1]) return false;
    }
    return true;
  }
  var valueAxis = null;
  function parallel() {
    var el = body('parallel');
    if (!done.length || !axes.length) { el.innerHTML = '<p class="note">No completed trial yet.</p>'; return; }
    var vd = extent(done.map(function (t) { return t.value; }));
    var vs = scale(vd, 0, 1, false);
    valueAxis = { name: D.study.metric, dom: vd, pos: function (v) { return fin(v) ? vs(v) : null; } };
    var all = axes.concat([valueAxis]);
    var w = Math.max(400, 120 * all.length), h = 340, top = 24, bot = 30;
    var X = function (i) { return 50 + i * (w - 100) / Math.max(1, all.length - 1); };
    var Y = function (u) { return h - bot - u * (h - bot - top); };
    var s = '';
    done.forEach(function (t) {
      var d = '', ok = true;
      all.forEach(function (a, i) {
        var u = i < axes.length ? a.pos(t.params[a.name]) : a.pos(t.value);
        if (u === null || u === undefined) { ok = false; return; }
        d += (d ? ' L' : 'M') + X(i) + ',' + Y(u);
      });
      if (d) s += '<path class="pc ' + cls(t) + (passes(t) ? '' : ' dim') + '" data-n="' + t.n + '" d="' + d + '">' + title(t) + '</path>';
    });
    all.forEach(function (a, i) {
      s += '<g class="axis"><line x1="' + X(i) + '" x2="' + X(i) + '" y1="' + Y(0) + '" y2="' + Y(1) + '"/>' +
        '<text x="' + X(i) + '" y="' + (top - 8) + '" text-anchor="middle">' + esc(a.name) + '</text>';
      if (a.cats) {
        a.cats.forEach(function (c, j) { s += '<text x="' + (X(i) + 4) + '" y="' + Y(a.cats.length > 1 ? j / (a.cats.length - 1) : 0.5) + '">' + esc(pval(c)).slice(0, 12) + '</text>'; });
      } else {
        s += '<text x="' + (X(i) + 4) + '" y="' + (Y(0) + 14) + '">' + fmt(a.dom[0]) + '</text><text x="' + (X(i) + 4) + '" y="' + (Y(1) - 2) + '">' + fmt(a.dom[1]) + '</text>';
      }
      var b = brushes[i];
      if (b) s += '<rect class="brush" x="' + (X(i) - 8) + '" width="16" y="' + Y(b[1]) + '" height="' + (Y(b[0]) - Y(b[1])) + '"/>';
      s += '<rect class="brusharea" data-axis="' + i + '" x="' + (X(i) - 10) + '" width="20" y="' + Y(1) + '" height="' + (Y(0) - Y(1)) + '"/></g>';
    });
    el.innerHTML = svg(w, h, s);
    pc = { root: el.querySelector('svg'), h: h, bot: bot, top: top };
    pc.root.addEventListener('mousedown', function (ev) {
      var a = ev.target.getAttribute && ev.target.getAttribute('data-axis');
      if (a === null || a === undefined) return;
      drag = { axis: +a, from: uAt(ev) };
      ev.preventDefault();
    });
    pc.root.addEventListener('dblclick', function (ev) {
      var a = ev.target.getAttribute && ev.target.getAttribute('data-axis');
      if (a !== null && a !== undefined) { delete brushes[+a]; parallel(); table(); }
    });
  }
  var pc = null, drag = null;
  function uAt(ev) {
    var r = pc.root.getBoundingClientRect();
    return Math.min(1, Math.max(0, (pc.h - pc.bot - (ev.clientY - r.top)) / (pc.h - pc.bot - pc.top)));
  }
  window.addEventListener('mouseup', function (ev) {
    if (!drag) return;
    var to = uAt(ev), lo = Math.min(drag.from, to), hi = Math.max(drag.from, to);
    if (hi - lo > 0.005) brushes[drag.axis] = [lo, hi]; else delete brushes[drag.axis];
    drag = null;
    parallel();
    table();
  });

  // ---- importance ----
  var importance = (D.importance && D.importance.params) || [];
  function importanceChart() {
    var el = body('importance');
    if (!importance.length) { el.innerHTML = '<p class="note">' + esc(D.importance.error || 'No param to rank.') + '</p>'; return; }
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
    pts.forEach(function (t) {
      s += '<circle class="pt ' + cls(t) + '" data-n="' + t.n + '" r="2" cx="' + (M.l + at(two[0], nx, t.params[two[0].name]) * pw) + '" cy="' + (M.t + (1 - at(two[1], ny, t.params[two[1].name])) * ph) + '">' + title(t) + '</circle>';
    });
    s += '<g class="axis"><text x="' + (M.l + pw / 2) + '" y="' + (h - 4) + '" text-anchor="middle">' + esc(two[0].name) + axisRange(two[0]) + '</text>' +
      '<text transform="translate(12,' + (M.t + ph / 2) + ') rotate(-90)" text-anchor="middle">' + esc(two[1].name) + axisRange(two[1]) + '</text></g>';
    el.innerHTML = svg(w, h, s) + '<p class="note">Mean ' + esc(D.study.metric) + ' of the completed trials in each of ' + nx + '×' + ny + ' cells (darker is better); dots are trials.</p>';
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
      var s = f.svg;
      pts.forEach(function (t) {
        var x = X(t);
        if (fin(x)) s += '<circle class="pt ' + cls(t) + '" data-n="' + t.n + '" cx="' + x + '" cy="' + f.y(t.value) + '" r="3">' + title(t) + '</circle>';
      });
      html += svg(w, h, s);
    });
    el.innerHTML = html;
  }

  // ---- the trial table ----
  var sortKey = 'n', sortAsc = true, states = { complete: true, pruned: true, failed: true, running: true }, text = '', selected = null;
  var ROWS = 1000;
  var cols = [
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
  function cmp(a, b) {
    var an = a === null || a === undefined || (typeof a === 'number' && isNaN(a)), bn = b === null || b === undefined || (typeof b === 'number' && isNaN(b));
    if (an || bn) return an - bn;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return pval(a) < pval(b) ? -1 : pval(a) > pval(b) ? 1 : 0;
  }
  function tableControls() {
    var c = controls('table');
    c.innerHTML = Object.keys(states).map(function (s) {
      return '<label><input type="checkbox" data-state="' + s + '" checked> ' + s + ' (' + D.counts[s] + ')</label>';
    }).join('') + '<label>filter <input type="search" id="hs-filter" placeholder="text in any cell"></label><span class="note" id="hs-shown"></span>';
    Array.prototype.forEach.call(c.querySelectorAll('input[data-state]'), function (i) {
      i.onchange = function () { states[i.getAttribute('data-state')] = i.checked; table(); };
    });
    document.getElementById('hs-filter').oninput = function (ev) { text = ev.target.value.toLowerCase(); table(); };
  }
  function table() {
    var col = cols.filter(function (c) { return c.k === sortKey; })[0] || cols[0];
    var rows = trials.filter(function (t) {
      if (!states[t.state]) return false;
      if (Object.keys(brushes).length && !passes(t)) return false;
      if (text) {
        var hay = cols.map(function (c) { return pval(c.get(t)); }).join(' ').toLowerCase();
        if (hay.indexOf(text) < 0) return false;
      }
      return true;
    });
    rows.sort(function (a, b) { var r = cmp(col.get(a), col.get(b)); return sortAsc ? r : -r; });
    var shown = rows.slice(0, ROWS);
    document.getElementById('hs-shown').textContent = rows.length + ' of ' + trials.length + ' trials match' + (rows.length > ROWS ? ', the first ' + ROWS + ' shown' : '') + (Object.keys(brushes).length ? ' (brushed in parallel coordinates)' : '');
    var html = '<div class="tablewrap"><table class="trials"><thead><tr>' + cols.map(function (c) {
      return '<th data-key="' + esc(c.k) + '">' + esc(c.h) + (c.k === sortKey ? (sortAsc ? ' ▲' : ' ▼') : '') + '</th>';
    }).join('') + '</tr></thead><tbody>' + shown.map(function (t) {
      return '<tr data-n="' + t.n + '" class="' + (t.n === D.best ? 'best' : '') + (t.n === selected ? ' selected' : '') + '">' + cols.map(function (c) {
        var v = c.get(t), txt = c.show ? c.show(v) : (v === null || v === undefined ? '' : pval(v));
        return '<td' + (c.k === 'state' ? ' class="state-' + t.state + '"' : '') + ' title="' + esc(txt) + '">' + esc(txt) + '</td>';
      }).join('') + '</tr>';
    }).join('') + '</tbody></table></div>';
    body('table').innerHTML = html;
    Array.prototype.forEach.call(body('table').querySelectorAll('th'), function (th) {
      th.onclick = function () {
        var k = th.getAttribute('data-key');
        if (k === sortKey) sortAsc = !sortAsc; else { sortKey = k; sortAsc = true; }
        table();
      };
    });
  }
  // Clicking a mark in any chart selects its trial in the table.
  document.addEventListener('click', function (ev) {
    var el = ev.target.closest && ev.target.closest('svg [data-n]');
    if (!el) return;
    selected = +el.getAttribute('data-n');
    table();
    var row = body('table').querySelector('tr[data-n="' + selected + '"]');
    if (row) row.scrollIntoView({ block: 'center' });
  });

  [['summary', summary], ['history', history], ['curves', curves], ['parallel', parallel],
    ['importance', importanceChart], ['contour', contour], ['slices', slices],
    ['table', function () { tableControls(); table(); }]].forEach(function (s) {
    try { s[1](); } catch (e) { fail(s[0], e); }
  });
  document.body.setAttribute('data-rendered', String(document.querySelectorAll('svg').length));
  document.body.setAttribute('data-errors', String(errors));
})();
