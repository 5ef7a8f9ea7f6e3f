#!/usr/bin/env bash
# Sweeps on Dask (issue 17): install the sweep extra and run tests/test_sweeps.py for real,
# the LocalCluster sweep and the scheduler with two `dask worker` processes, one killed
# mid-sweep, included. Nothing here may be skipped: a missing Dask is a failure. About 2 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m pip install --quiet ".[sweep]"
python -c "import dask, distributed; print('CI: dask', dask.__version__)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 240 python -m pytest -q -p no:cacheprovider -rs tests/test_sweeps.py | tee "$log"
if grep -q "SKIPPED" "$log"; then
  echo "CI: a sweep test was skipped although the sweep extra is installed" >&2
  exit 1
fi
