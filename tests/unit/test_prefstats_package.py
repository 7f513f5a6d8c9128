"""The package contract: public names exist, and importing it pulls in neither Django
nor scipy (it must run anywhere numpy runs)."""

import subprocess
import sys
from pathlib import Path

import prefstats

ROOT = Path(__file__).resolve().parents[2]


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
