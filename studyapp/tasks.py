"""Celery tasks: thin wrappers that take ids and call services.

Bound to the study site's own app (not ``shared_task``): in a process that has also
created the explainer's Celery app (tests, a notebook), a shared task would follow
whichever app is current and could send its message to the explainer's broker instead
of running eagerly or going to the web-jobs queue.
"""

from studyapp.celery import app
from studyapp.models import ExportJob, ImportJob
from studyapp.services.job_leases import JOB_TASKS, jobs_sweep
from studyapp.services.jobs import export_job_run, import_job_run


@app.task(name=JOB_TASKS[ImportJob], acks_late=True)
def run_import_job(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return job.status if job else "already claimed"


@app.task(name=JOB_TASKS[ExportJob], acks_late=True)
def run_export_job(job_id: int) -> str:
    job = export_job_run(job_id=job_id)
    return job.status if job else "already claimed"


@app.task(name="studyapp.tasks.sweep_jobs")
def sweep_jobs() -> None:
    """Beat's periodic recovery sweep (settings.CELERY_BEAT_SCHEDULE); safe to run anywhere, twice."""
    jobs_sweep()
