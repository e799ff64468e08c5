# syntax=docker/dockerfile:1
# Explainer worker image: CPU-only torch plus the `explainer` extra, running the
# explainer's own Celery app on the "explain" queue. No Django in here.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
# Pinned like the Makefile's TORCH_SPEC; the CPU index keeps CUDA (several GB) out.
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --index-url https://download.pytorch.org/whl/cpu \
    "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY explainer ./explainer
RUN pip install ".[explainer]"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
# torch's wheel brings its own OpenMP runtime (torch/lib/libgomp), so no system packages.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /work --shell /usr/sbin/nologin app \
 && mkdir -p /work /bundles \
 && chown -R app:app /work /bundles
COPY --from=build /opt/venv /opt/venv
WORKDIR /work
USER app
CMD ["celery", "-A", "explainer.celery_app", "worker", "-Q", "explain", "--loglevel", "INFO"]
