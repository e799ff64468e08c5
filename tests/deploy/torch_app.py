"""A WSGI entry point that breaks the package boundary on purpose: torch, then the site.

tests/deploy/test_production_processes.py serves it with studyapp.gunicorn_conf to
show that the configuration refuses to run a web worker that has loaded torch.
"""

import torch  # noqa: F401

from studyapp.wsgi import application  # noqa: F401
