# syntax=docker/dockerfile:1
# Web image: gunicorn serving Django (static files through whitenoise) and the
# web-jobs Celery worker (imports, exports). It installs the `web` extra only, so
# torch is never in it (tests/deploy/test_compose_structure.py checks this file).
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY studyapp ./studyapp
# A regular (not editable) install: the runtime stage copies only /opt/venv.
RUN pip install ".[web]"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=studyapp.settings \
    HEARXAI_DATA_DIR=/data \
    HEARXAI_STATIC_ROOT=/app/static
# A fixed non-root uid, so files on the named volumes keep one owner across rebuilds.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /data/media /data/exports /data/uploads /bundles \
 && chown -R app:app /data /bundles
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY manage.py ./
# Static files belong to the code version, so they are collected into the image at
# build time (hashed names, compressed); the throwaway key only satisfies settings.
RUN DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    python manage.py collectstatic --noinput -v0
USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "python:studyapp.gunicorn_conf", "studyapp.wsgi:application"]
