"""The Celery application: queues `default` and `ml`, and the beat schedule.

Apps add their nightly retraining entries to ``CELERY_BEAT_SCHEDULE`` in settings; with no
``REDIS_URL`` set, tasks run eagerly (inline), so the embedded default needs no worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")

app = Celery("shopops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
