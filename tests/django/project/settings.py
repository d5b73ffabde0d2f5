"""The smallest Django project that runs the quota service over django-redis.

REDIS_URL, CACHE_KEY_PREFIX and CACHE_VERSION come from the environment, so a test can point it
at its own redis-server and key space.
"""

import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = []
DATABASES = {}

# Quotas apply only in passkey mode (home mode is unlimited).
AUTH_MODE = "passkey"

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", ""),
        "VERSION": int(os.environ.get("CACHE_VERSION", "1")),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}
