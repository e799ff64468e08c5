from django.apps import AppConfig


class StudyAppConfig(AppConfig):
    name = "studyapp"
    verbose_name = "Studies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Load the Celery app so @shared_task binds to our configuration.
        from studyapp import celery  # noqa: F401
