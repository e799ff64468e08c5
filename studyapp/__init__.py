"""The study site: Django project and app in one package.

Kept free of imports so that ``analysis`` can import :mod:`studyapp.export_format`
without Django. The Celery app is loaded by ``studyapp.celery`` when a worker starts
or when Django settings load it through ``studyapp.apps``.
"""
