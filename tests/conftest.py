"""Point the data loaders at the shared data folder beside the repository (`../shared/data`), if present."""

from __future__ import annotations

import os
from pathlib import Path

_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("NASFORGE_DATA", str(_SHARED_DATA))
