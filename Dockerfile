# The tagwire image: `docker build -t tagwire .`, then docs/deploy.md.
#
# BASE: any Debian-like image with Python >= 3.11 and its venv module; both stages use it, so the
# virtual environment built in the first one runs in the second. The default is the official
# slim image from Docker Hub. Without Docker Hub, build a base from Debian's packages and pass
# it: deploy/check does (debootstrap, then `docker import`) with --build-arg BASE=tagwire-base:bookworm.
#
# Needs BuildKit (the default builder since Docker 23; with Debian's docker.io 20.10, set
# DOCKER_BUILDKIT=1). The pip steps read two optional build inputs, for a machine whose way to
# PyPI is not the default one:
#   --build-arg PIP_INDEX_URL=… / --build-arg PIP_EXTRA_INDEX_URL=…   another package index
#   --secret id=pip_cert,src=/path/to/ca-bundle.crt                   a CA bundle pip must trust
# The secret is mounted for those steps only and is in no layer.
ARG BASE=python:3.11-slim

# ---------------------------------------------------------------------------- build stage
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
RUN python3 -m venv /opt/tagwire

# The dependencies first, from pyproject.toml alone, so that a change to the code does not
# download them again: a throw-away project with the same metadata and empty packages.
WORKDIR /deps
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip_cert \
    set -eu; \
    [ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    mkdir -p bot handlers storage; touch README.md bot/__init__.py handlers/__init__.py storage/__init__.py; \
    /opt/tagwire/bin/pip install --quiet . ; \
    /opt/tagwire/bin/pip uninstall --quiet --yes tagwire

# Then tagwire itself, as a wheel built from this checkout (no sources are run in place).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY storage storage
RUN --mount=type=secret,id=pip_cert \
    set -eu; \
    [ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    /opt/tagwire/bin/pip wheel --quiet --no-deps --wheel-dir /wheels . ; \
    /opt/tagwire/bin/pip install --quiet --no-deps /wheels/tagwire-*.whl; \
    /opt/tagwire/bin/pip check; \
    /opt/tagwire/bin/pip uninstall --quiet --yes pip

COPY deploy/docker-healthcheck /opt/tagwire/bin/tagwire-healthcheck

# ---------------------------------------------------------------------------- run stage
FROM ${BASE}
LABEL org.opencontainers.image.title="tagwire" \
      org.opencontainers.image.description="A Telegram bot that delivers tagged news" \
      org.opencontainers.image.licenses="MIT"

# A fixed, unprivileged id, so that a bind-mounted /data can be given to it: chown 10001 DIR.
RUN groupadd --system --gid 10001 tagwire \
    && useradd --system --uid 10001 --gid tagwire --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin tagwire \
    && mkdir /data && chown tagwire:tagwire /data && chmod 0750 /data

COPY --from=build /opt/tagwire /opt/tagwire

# The HTTP server (API, /healthz, /metrics, webhook) listens on every address of the
# container so that a published port reaches it; it runs only when TAGWIRE_INGEST_TOKEN or
# TAGWIRE_WEBHOOK_URL is set. Publish it on the host's loopback (-p 127.0.0.1:8080:8080) or
# behind a reverse proxy, never on a public address.
ENV PATH=/opt/tagwire/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TAGWIRE_DATABASE=/data/tagwire.db \
    TAGWIRE_HTTP_HOST=0.0.0.0 \
    TAGWIRE_HTTP_PORT=8080

# The working directory is the volume: relative paths (`tagwire backup backup.db`) land there.
WORKDIR /data
VOLUME ["/data"]
USER tagwire:tagwire
EXPOSE 8080

# Asks /healthz on the port the settings name; fails, saying why, when the HTTP server is off.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["tagwire-healthcheck"]

# `tagwire run` stops cleanly on SIGTERM (docker stop) within a few seconds; it runs as PID 1
# with no shell in between, so the signal reaches it.
STOPSIGNAL SIGTERM
CMD ["tagwire", "run"]
