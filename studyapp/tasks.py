"""Celery tasks: thin wrappers that take ids and call services."""

from celery import shared_task

from studyapp.services.jobs import export_job_run, import_job_run


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return job.status if job else "already claimed"


@shared_task(acks_late=True)
def run_export_job(job_id: int) -> str:
    job = export_job_run(job_id=job_id)
    return job.status if job else "already claimed"
