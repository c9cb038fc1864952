"""Settings for ``bench/serve_recommendations.py``'s server: the project's, plus one bench URL.

The server subprocess gets ``DJANGO_SETTINGS_MODULE=bench._bench_settings`` so the endpoint
under test and the trivial baseline run in the same process, with the same middleware.
"""

import os

from shopops.settings import *  # noqa: F403
from shopops.settings import DATABASES

ROOT_URLCONF = "bench._bench_urls"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The project turns persistent connections off for SQLite (importers write beside the demo
    # server); production runs PostgreSQL with DATABASE_CONN_MAX_AGE (60 s by default). The
    # bench's server only reads, so it keeps connections the way production does.
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
