"""Settings for the test suite: the real settings, with a test secret."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-not-for-production")
os.environ.setdefault("CACHE_PREFIX", f"tc-test-{os.getpid()}")  # never share cache keys with a dev server
# Many sign-ins from 127.0.0.1 within a minute; the rate-limit tests set their own rates.
os.environ.setdefault("LOGIN_RATE", "10000/min")
os.environ.setdefault("JOIN_RATE", "10000/min")

from config.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
