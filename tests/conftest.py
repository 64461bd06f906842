"""Shared test set-up: where the real datasets are, and quiet framework logs."""

import os
from pathlib import Path

# Tests and CI read the verified datasets from ../shared/data beside the checkout.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if SHARED_DATA.is_dir():
    os.environ.setdefault("RNNBENCH_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
