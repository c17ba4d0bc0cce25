#!/usr/bin/env bash
# Screenshots a kvbench HTML report with headless Chromium (Debian's `chromium` package).
#   reports/screenshot.sh report.html [out.png] [width,height]
# The README's picture is made this way:
#   kvbench compare ... (or kvbench report RESULTS_DIR -o report.html)
#   reports/screenshot.sh report.html reports/report.png
set -euo pipefail
page=${1:?usage: $0 report.html [out.png] [width,height]}
out=${2:-report.png}
size=${3:-1400,3000}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "$chromium is missing: apt-get install chromium" >&2; exit 1; }
[ -f "$page" ] || { echo "no such report: $page" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
case $out in /*) ;; *) out=$PWD/$out ;; esac
timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --window-size="$size" --screenshot="$out" "file://$abs" 2>/dev/null
[ -s "$out" ] || { echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
