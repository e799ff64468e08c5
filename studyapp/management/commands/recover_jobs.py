"""``manage.py recover_jobs``: queue again the jobs of dead workers; send jobs Redis never got.

Celery beat already has a web-jobs worker do this every ``JOB_SWEEP_S`` seconds; the command is
for an operator who wants it now (for example with all workers stopped, to see what is
pending). Safe to run at any time and from several places at once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from studyapp.models import ExportJob, ImportJob, Job
from studyapp.services.job_leases import job_state_note, jobs_recover


class Command(BaseCommand):
    help = "Re-queue jobs whose worker died (lease expired) and send queued jobs that never reached the queue."

    def handle(self, *args: Any, **options: Any) -> None:
        actions = jobs_recover()
        for action in actions:
            self.stdout.write(action)
        if not actions:
            self.stdout.write("nothing to recover")
        for model in (ImportJob, ExportJob):
            for job in model.objects.filter(
                status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
            ).order_by("pk"):
                self.stdout.write(f"{job}: {job_state_note(job)}")
