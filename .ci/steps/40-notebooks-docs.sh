#!/usr/bin/env bash
# The study path's notebooks and the documentation site (issue 16).
#
# 1. Runs tests/test_display.py again, now with IPython installed: figures display inline.
# 2. Executes every notebook in notebooks/ in fast mode (SCRATCHNN_FAST=1: fewer
#    iterations, the same code) on a fresh kernel, into a temporary folder: the committed
#    notebooks, which carry the outputs of a full run, are never overwritten.
# 3. Builds the site with `mkdocs build --strict`: a broken link, a missing reference or
#    any other warning fails.
# Data: $SCRATCHNN_DATA, by default ../shared/data beside the checkout.
set -euo pipefail

python -m pip install --quiet ".[docs]" nbconvert
python -m pytest -q -p no:cacheprovider tests/test_display.py

data=${SCRATCHNN_DATA:-../shared/data}
if [ ! -d "$data" ]; then
  echo "notebooks: no data folder at $data (set SCRATCHNN_DATA)" >&2
  exit 1
fi
export SCRATCHNN_DATA
SCRATCHNN_DATA=$(cd "$data" && pwd)   # absolute: the kernels run in the copy's folder
export SCRATCHNN_FAST=1
export NO_MKDOCS_2_WARNING=1        # mkdocs-material's notice about MkDocs 2

work=$(mktemp -d)
site=$(mktemp -d)
trap 'rm -rf "$work" "$site"' EXIT

cp notebooks/*.ipynb "$work"/
for nb in "$work"/*.ipynb; do
  start=$SECONDS
  jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 "$nb"
  echo "notebooks: $(basename "$nb") ran in $((SECONDS - start)) s (fast mode)"
done

mkdocs build --strict --site-dir "$site"
echo "docs: $(find "$site" -name index.html | wc -l) pages built in $site"
