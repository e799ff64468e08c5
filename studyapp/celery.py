"""Celery app of the web side (imports, exports). Never imports torch.

Celery beat (``celery -A studyapp beat``, one process per deployment: the compose
service ``scheduler``) sends ``tasks.sweep_jobs`` every ``JOB_SWEEP_S`` seconds
(``CELERY_BEAT_SCHEDULE``), and a web-jobs worker runs it: it queues again the jobs of
workers that died and sends jobs whose message never reached Redis, so nothing waits
for a person to notice (``services.job_leases``).

Imports nothing of the project, so every module may import the app.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")

app = Celery("studyapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["studyapp"])
