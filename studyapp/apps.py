from django.apps import AppConfig


class StudyAppConfig(AppConfig):
    name = "studyapp"
    verbose_name = "Studies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process, the web's too: the job services find
        # them by name in the app's registry (services.job_leases.JOB_TASKS). Here, once the
        # models are loaded, as Django's docs advise for registrations.
        from studyapp import tasks  # noqa: F401
