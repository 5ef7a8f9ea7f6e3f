#!/usr/bin/env bash
# scratchnn serve (issue 15): install the web extra, Selenium and, when missing, Debian's
# Chromium and its driver; then run the API tests and the browser tests for real. Both files
# skip without what they need, so this step first makes sure all of it is there, and fails
# on any skip: a skip here would be a silent pass. Screenshots of the three views are kept
# in ci-artifacts/serve/. Budget: 5 minutes.
set -euo pipefail

artifacts=ci-artifacts/serve
mkdir -p "$artifacts"

python -m pip install --quiet ".[web]" httpx httpx2 selenium
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
python -c "import starlette, uvicorn, selenium; print('starlette', starlette.__version__, '/ uvicorn', uvicorn.__version__, '/ selenium', selenium.__version__)"
chromium --version
chromedriver --version

log=$(mktemp)
SCRATCHNN_SERVE_SCREENSHOTS="$artifacts" timeout 280 \
  python -m pytest -q -p no:cacheprovider -rs tests/test_serve_api.py tests/test_serve_browser.py \
  | tee "$log"
if grep -qE "[0-9]+ skipped" "$log"; then
  echo "30-serve: tests were skipped; they must run here" >&2
  exit 1
fi
echo "30-serve: screenshots in $artifacts/:"
ls -l "$artifacts"
