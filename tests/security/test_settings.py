"""Secrets come only from the environment, and production settings refuse to start with a
default or weak secret, or with DEBUG on for a public host."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import debug_problem, secret_key_problem

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k9-Jq2vX_7mP4rT8wZ1yB6nC3hL5sD0fG"


@pytest.mark.parametrize("key", ["", "dev-only-insecure-key", "django-insecure-abc123xyz789qwe456", "changeme", "CHANGE-ME", "secret",
                                 "short-key", "aaaaaaaaaaaaaaaaaaaaaaaa"])
def test_weak_or_default_secrets_are_refused(key):
    assert secret_key_problem(key)


def test_a_real_secret_is_accepted():
    assert secret_key_problem(STRONG) is None


def test_debug_is_refused_for_public_hosts_only():
    assert debug_problem(True, ["trenchcoat.example.org", "localhost"])
    assert debug_problem(True, ["*"])
    assert debug_problem(True, ["localhost", "127.0.0.1", "[::1]"]) is None
    assert debug_problem(False, ["trenchcoat.example.org"]) is None


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the real (production) settings in a fresh process with this environment."""
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")}
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup(); print('started')"
    return subprocess.run([sys.executable, "-c", code], check=False, env={**clean, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("env", "says"), [
    ({}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": "dev-only-insecure-key"}, "development SECRET_KEY"),
    ({"SECRET_KEY": "changeme"}, "placeholder"),
    ({"SECRET_KEY": "abc"}, "too weak"),
    ({"SECRET_KEY": STRONG, "DEBUG": "1", "ALLOWED_HOSTS": "trenchcoat.example.org"}, "DEBUG on"),
    ({"SECRET_KEY": STRONG, "DEBUG": "maybe"}, "not a boolean"),
    ({"SECRET_KEY": STRONG, "LOGIN_RATE": "lots"}, "LOGIN_RATE"),
])
def test_production_settings_refuse_to_start(env, says):
    result = start(env)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and says in result.stderr, result.stderr[-800:]


def test_production_settings_start_with_a_real_secret_and_a_laptop_starts_with_debug():
    assert start({"SECRET_KEY": STRONG, "ALLOWED_HOSTS": "trenchcoat.example.org"}).stdout.strip() == "started"
    assert start({"DEBUG": "1"}).stdout.strip() == "started"


def test_secrets_are_read_from_the_environment_only():
    """No module assigns a literal to a secret-looking setting, but the DEBUG-only dev key."""
    suspicious = []
    for path in [*ROOT.glob("config/*.py"), *ROOT.glob("*/settings*.py")]:
        if path.name == "settings_test.py":
            continue  # the test suite's own key, set only when none is given
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    name = getattr(target, "id", "")
                    if any(word in name.upper() for word in ("SECRET", "PASSWORD", "TOKEN", "API_KEY")) and \
                            not node.value.value.startswith("dev-only"):
                        suspicious.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not suspicious, suspicious
    compose = (ROOT / "docker" / "compose.yml").read_text()
    assert "SECRET_KEY: ${SECRET_KEY:?" in compose  # compose refuses to start without one
    from django.conf import settings

    assert settings.SECRET_KEY == os.environ["SECRET_KEY"]


def test_cookies_and_headers():
    from django.conf import settings

    assert settings.SESSION_COOKIE_HTTPONLY and settings.X_FRAME_OPTIONS == "DENY" and settings.SECURE_CONTENT_TYPE_NOSNIFF
