"""The package contract: public names exist, and importing it pulls in neither Django
nor scipy (it must run anywhere numpy runs)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

import prefstats  # noqa: E402


# tests/conftest.py has autouse fixtures that need Django; prefstats is Django-free and
# runs with `-p no:django`, so this module replaces them with no-ops.
@pytest.fixture(autouse=True)
def _export_root():
    yield


@pytest.fixture(autouse=True)
def _celery_in_process():
    yield


def test_public_names_resolve():
    assert len(prefstats.__all__) == len(set(prefstats.__all__))
    for name in prefstats.__all__:
        assert getattr(prefstats, name) is not None, name


def test_import_is_pure_numpy():
    code = (
        "import sys, prefstats\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'scipy', 'pandas'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
