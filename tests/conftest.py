import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture
def shared_data():
    """../shared/data, or a skip with the reason when this clone has none beside it."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (a fresh clone has no ../shared); this test reads real data from it")
    return path


@pytest.fixture(autouse=True)
def _export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
