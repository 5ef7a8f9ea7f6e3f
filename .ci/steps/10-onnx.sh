#!/usr/bin/env bash
# ONNX export and import (issue 18): install the onnx extra, then run tests/test_onnx.py for
# real. Without onnx and onnxruntime those tests skip, so this step first makes sure both
# import: a skip here would be a silent pass. The PyTorch tests run only where an earlier
# step installed torch (the bench extra); they skip otherwise.
set -euo pipefail

python -m pip install --quiet ".[onnx]"
python -c "import onnx, onnxruntime; print('onnx', onnx.__version__, '/ onnxruntime', onnxruntime.__version__)"
python -m pytest -q -p no:cacheprovider -rs tests/test_onnx.py "tests/test_readme.py" -k "onnx"
