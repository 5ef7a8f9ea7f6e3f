"""Shared fixtures: the reference data sets in ../shared/data and a private cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real data sets (MNIST, cat-vs-non-cat, sample weights).

    CI keeps it beside the checkout; a test that needs it fails (not skips) when it is absent.
    """
    if os.environ.get("SCRATCHNN_TEST_DATA"):
        candidates = [Path(os.environ["SCRATCHNN_TEST_DATA"])]
    else:
        # A newcomer who set SCRATCHNN_DATA for `scratchnn train` has set it for the tests too.
        candidates = [SHARED_DATA]
        if os.environ.get("SCRATCHNN_DATA"):
            candidates.append(Path(os.environ["SCRATCHNN_DATA"]))
    for where in candidates:
        if (where / "mnist").is_dir():
            return where
    looked = " and ".join(str(c / "mnist") for c in candidates)
    pytest.fail(
        f"reference data not found: expected MNIST under {looked} (set SCRATCHNN_TEST_DATA "
        "to the folder that holds mnist/, catvnoncat/, dlfs/)"
    )


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the decoded-data cache of the test run away from the user's ~/.cache."""
    cache = tmp_path_factory.mktemp("scratchnn-cache")
    old = os.environ.get("SCRATCHNN_CACHE")
    os.environ["SCRATCHNN_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("SCRATCHNN_CACHE", None)
    else:
        os.environ["SCRATCHNN_CACHE"] = old
