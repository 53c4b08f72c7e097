#!/usr/bin/env bash
# The HTML report in a real browser. Headless Chromium (Debian's) renders the report.html of a run
# of the suite against the embedded server: the rendered page has the endpoint-by-outcome matrix
# (every catalogue endpoint), it loads nothing from the network (Chromium's net log lists every
# request the page starts; a probe page with external resources first shows the check sees them),
# and a screenshot is taken (target/report-check/report.png).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/need.sh chromium:chromium
out="$PWD/target/report-check"
rm -rf "$out"
mkdir -p "$out"
cargo run -q -p jcr-conformance -- --reports "$out/reports" >"$out/run.txt"
report="$out/reports/latest/report.html"
chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --user-data-dir="$(mktemp -d)" "$@" 2>/dev/null
}
# The pages' own requests: net-log URL requests whose initiator is the file page ("null").
page_requests() {
  python3 - "$1" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
for e in log["events"]:
    p = e.get("params", {})
    if e["type"] == start and p.get("initiator") == "null" and not p.get("url", "").startswith("file:"):
        print(p["url"])
PY
}
printf '<html><body><img src="http://127.0.0.1:9/x.png"><script src="https://example.invalid/a.js"></script></body></html>' >"$out/probe.html"
chrome --log-net-log="$out/probe-net.json" --dump-dom "file://$out/probe.html" >/dev/null
probe=$(page_requests "$out/probe-net.json" | wc -l)
if [ "$probe" -ne 2 ]; then
  echo "report check: the net-log check saw $probe of the probe page's 2 external requests" >&2
  exit 1
fi
chrome --log-net-log="$out/net.json" --dump-dom "file://$report" >"$out/dom.html"
external=$(page_requests "$out/net.json")
if [ -n "$external" ]; then
  echo "report check: report.html loads from the network: $external" >&2
  exit 1
fi
python3 - "$out/dom.html" fixtures/endpoints.toml <<'PY'
import sys, tomllib
dom = open(sys.argv[1]).read()
ids = [e["id"] for e in tomllib.load(open(sys.argv[2], "rb"))["endpoint"]]
for heading in ("<h2>Endpoints by area</h2>", "<h2>Endpoints</h2>", "<h2>Snapshots</h2>", "<h2>Cases</h2>"):
    assert heading in dom, f"the rendered report has no {heading}"
missing = [i for i in ids if f"<code>{i}</code>" not in dom]
assert not missing, f"the matrix lacks {missing}"
assert dom.count('class="cell"') >= len(ids), "outcome cells missing"
print(f"report check: rendered, {len(ids)} endpoints in the matrix, nothing loaded from the network")
PY
chrome --window-size=1280,1600 --screenshot="$out/report.png" "file://$report" >/dev/null
size=$(stat -c %s "$out/report.png")
if [ "$size" -lt 20000 ]; then
  echo "report check: the screenshot is only $size bytes" >&2
  exit 1
fi
echo "report check: screenshot $out/report.png ($size bytes)"
