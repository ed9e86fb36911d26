// hypersweep dashboard: keeps the report's views up to date. Every POLL it
// asks the server for what changed since the version it has drawn, and
// merges the answer through window.hypersweepReport.apply. Requests go only
// to the server that served the page.
(function () {
  'use strict';
  var R = window.hypersweepReport;
  if (!R) return;
  var live = R.data().live, version = live.version, status = document.getElementById('hs-live');
  function show(text) { status.textContent = text; }
  function json(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(r.status + ' ' + t); });
      return r.json();
    });
  }
  function poll() {
    json('/api/changes?study=' + encodeURIComponent(live.study) + '&since=' + version).then(function (d) {
      if (d.version !== version) R.apply(d);
      version = d.version;
      document.body.setAttribute('data-version', String(version));
      show('live: ' + R.data().trials.length + ' trials, checked ' + new Date().toLocaleTimeString());
    }).catch(function (e) {
      show('not updating: ' + e.message + ' (retrying)');
    }).then(function () {
      // A study so large that drawing it takes long is polled less often,
      // so the page stays responsive between updates.
      var drawing = +document.body.getAttribute('data-render-ms') || 0;
      setTimeout(poll, Math.max(live.poll_ms, 4 * drawing));
    });
  }
  function studies() {
    json('/api/studies').then(function (d) {
      if (d.studies.length < 2) return;
      var nav = document.getElementById('hs-studies');
      nav.innerHTML = 'studies: ' + d.studies.map(function (n) {
        var a = document.createElement('a');
        a.href = '/study?name=' + encodeURIComponent(n);
        a.textContent = n;
        if (n === live.study) a.className = 'on';
        return a.outerHTML;
      }).join('');
    }).catch(function (e) { show('no study list: ' + e.message); });
  }
  document.body.setAttribute('data-version', String(version));
  show('live: ' + R.data().trials.length + ' trials');
  studies();
  setTimeout(poll, live.poll_ms);
})();
