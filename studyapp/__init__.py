"""The study site: Django project and app in one package.

Kept free of imports, so that importing a submodule costs no more than it needs. The Celery app is loaded by ``studyapp.celery`` when a worker starts
or when Django settings load it through ``studyapp.apps``.
"""
