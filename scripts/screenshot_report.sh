#!/usr/bin/env bash
# Render a modelyard HTML report to a PNG with headless Chromium, to eyeball its layout.
# Usage: scripts/screenshot_report.sh REPORT_HTML OUT_PNG
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 REPORT_HTML OUT_PNG" >&2
  exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "$2")
[[ -f "$report" ]] || { echo "no such file: $1" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$browser" ]] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 1; }

"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot="$out" --window-size=1280,2400 "file://$report"
echo "$out"
