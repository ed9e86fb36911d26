#!/usr/bin/env bash
# Opens reports (and dashboard URLs) in headless Chromium and prints, per
# page: the wall time of `chromium --dump-dom` (the browser's own start
# included), the page's open time as it measured it (navigation start to
# every view drawn: download, parse, JSON, drawing), the time of the
# drawing alone, the count of rendered svg+canvas elements, script errors,
# and the HTML size.
#
#   HYPERSWEEP_BENCH_REPORT_DIR=/tmp/rep cargo bench --bench report
#   scripts/report-open-time.sh /tmp/rep/report-*.html http://127.0.0.1:8080/
set -euo pipefail
browser=${HYPERSWEEP_CHROMIUM:-chromium}
[ $# -gt 0 ] || { echo "usage: $0 FILE.html|URL..." >&2; exit 2; }
for page in "$@"; do
    case "$page" in
        http://*|https://*) url=$page; size=$(curl -s -o /dev/null -w '%{size_download}' "$url") ;;
        *) url="file://$(realpath "$page")"; size=$(stat -c %s "$page") ;;
    esac
    profile=$(mktemp -d)
    start=$(date +%s.%N)
    dom=$(timeout 900 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$profile" --dump-dom "$url" 2>/dev/null)
    end=$(date +%s.%N)
    rm -rf "$profile"
    body=$(grep -o '<body[^>]*>' <<<"$dom" | head -1)
    attr() { sed -n "s/.* $1=\"\([^\"]*\)\".*/\1/p" <<<"$body"; }
    printf '%s: wall %.1f s, page open %s ms, drawing %s ms, %s svg+canvas, %s trials, errors %s, %.1f MiB\n' \
        "$page" "$(echo "$end - $start" | bc)" "$(attr data-open-ms)" "$(attr data-render-ms)" \
        "$(attr data-rendered)" "$(attr data-trials)" "$(attr data-errors)" "$(echo "$size / 1048576" | bc -l)"
done
