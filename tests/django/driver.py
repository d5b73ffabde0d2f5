"""Runs the Django service's quota functions for a test, one JSON request per stdin line.

Each line is {"op": ..., ...}; each answer is one line, {"ok": result} or {"error": message}.
The quota module is imported unchanged; only its clock can be moved (the "clock" op), by the
same offset the test gives the engine's `now`, so both sides see the same instant.

    {"op": "reserve", "pk": 42, "feature": "remix"}          -> {"ok": [true, {}]}
    {"op": "reserve", "pk": "3f2c…", "uuid": true, ...}      a UUID pk, as a UUIDField holds it
    {"op": "key", "pk": 42, "feature": "remix"}              -> the Redis key and its TTL in ms
    {"op": "pause_before_set", "function": "increment_quota", "pk": 42, "feature": "remix"},
    then {"op": "resume_set"} -> the function runs in a thread until its cache.set, which
                                 waits for resume_set
    {"op": "arm", "pk": 42, "feature": "remix", "n": 80, "threads": 8, "start_at": ms},
    then {"op": "go"}   -> the tally of 80 reserves made by 8 threads from the instant start_at
                           (ms since the epoch, real time), each thread one reserve after another
"""

import json
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

import django_redis  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django_redis import get_redis_connection  # noqa: E402

from apps.ai.services import quota  # noqa: E402
from apps.core.models import AppSettings  # noqa: E402

clock_offset = timedelta(0)


class OffsetDatetime(datetime):
    """`datetime` whose now() is moved by the test's offset; everything else is datetime's."""

    @classmethod
    def now(cls, tz=None):
        return super().now(tz) + clock_offset


quota.datetime = OffsetDatetime


class Profile:
    """What the quota service reads of a profile: `pk` and `unlimited_ai`."""

    def __init__(self, request):
        pk = request["pk"]
        self.pk = uuid.UUID(pk) if request.get("uuid") else pk
        self.unlimited_ai = bool(request.get("unlimited", False))


armed = None


def arm(request):
    """Starts `threads` threads that together make `n` reserves from the instant `start_at`."""
    global armed
    results = []
    lock = threading.Lock()

    def work(count):
        profile = Profile(request)
        # This thread's cache connection, made now rather than in the race.
        cache.get(quota._cache_key(profile.pk, request["feature"]))
        time.sleep(max(0.0, request["start_at"] / 1000 - time.time()))
        for _ in range(count):
            try:
                allowed, _info = quota.reserve_quota(profile, request["feature"])
                outcome = "admitted" if allowed else "denied"
            except Exception as e:  # reported to the test, which fails on any
                outcome = f"{type(e).__name__}: {e}"
            with lock:
                results.append(outcome)

    n, threads = request["n"], request["threads"]
    workers = [
        threading.Thread(target=work, args=(n // threads + (i < n % threads),))
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    armed = (workers, results)
    return True


def go(_request):
    """Waits for the armed threads and answers their tally."""
    global armed
    workers, results = armed
    armed = None
    for w in workers:
        w.join()
    return {
        "admitted": results.count("admitted"),
        "denied": results.count("denied"),
        "errors": [r for r in results if r not in ("admitted", "denied")],
    }


class PausedSet:
    """The cache, except that `set` waits until `resume`: a moment to act between a quota
    function's `incr` finding no key and its blind `set`."""

    def __init__(self, inner):
        self.inner = inner
        self.reached = threading.Event()
        self.resume = threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def set(self, *args, **kwargs):
        self.reached.set()
        self.resume.wait()
        return self.inner.set(*args, **kwargs)


paused = None


def pause_before_set(request):
    """Runs quota.<op>(profile, feature) in a thread whose cache.set waits; answers whether it
    reached the set (false: it ended without one)."""
    global paused
    cache_now = PausedSet(quota.cache)
    quota.cache = cache_now
    function = getattr(quota, request["function"])
    thread = threading.Thread(target=function, args=(Profile(request), request["feature"]))
    thread.start()
    while not cache_now.reached.wait(0.01):
        if not thread.is_alive():
            break
    paused = (cache_now, thread)
    return cache_now.reached.is_set()


def resume_set(_request):
    """Lets the paused set run, waits for its function to end and restores the cache."""
    global paused
    cache_now, thread = paused
    paused = None
    cache_now.resume.set()
    thread.join()
    quota.cache = cache_now.inner
    return True


def set_clock(request):
    global clock_offset
    clock_offset = timedelta(milliseconds=request["offset_ms"])
    return True


def set_limits(request):
    for feature, limit in request["limits"].items():
        setattr(AppSettings, quota.FEATURE_LIMIT_FIELDS[feature], limit)
    return True


def key(request):
    """The Redis key Django uses for the profile's feature today, and its TTL in ms."""
    full = cache.make_key(quota._cache_key(Profile(request).pk, request["feature"]))
    return {"key": full, "pttl": get_redis_connection("default").pttl(full)}


OPS = {
    "check": lambda r: quota.check_quota(Profile(r), r["feature"]),
    "reserve": lambda r: quota.reserve_quota(Profile(r), r["feature"]),
    "release": lambda r: quota.release_quota(Profile(r), r["feature"]),
    "increment": lambda r: quota.increment_quota(Profile(r), r["feature"]),
    "get_usage": lambda r: quota.get_usage(Profile(r).pk),
    "key": key,
    "limits": set_limits,
    "clock": set_clock,
    "arm": arm,
    "go": go,
    "pause_before_set": pause_before_set,
    "resume_set": resume_set,
}


def main():
    get_redis_connection("default").ping()  # imports and connects before "ready"
    versions = {"django": django.__version__, "django_redis": django_redis.__version__}
    print(json.dumps({"ok": {"ready": True, **versions}}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": OPS[request["op"]](request)}
        except Exception as e:
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
