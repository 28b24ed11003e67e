# deploy/check only: a throw-away machine with systemd as PID 1, on which the units in this
# folder are installed the way docs/deploy.md installs them, verified (`systemd-analyze
# verify`, which needs the binaries they name to exist) and started for real.
#
#   docker build -f deploy/systemd-check.Dockerfile --build-arg BASE=… --build-arg APP=… deploy
#
# BASE: the Debian base the app image was built on; APP: that image, whose virtual environment
# (/opt/tagwire, the tagwire wheel and its dependencies) is copied to /opt/tagwire, where
# docs/deploy.md installs it.
ARG BASE
ARG APP
FROM ${APP} AS app

FROM ${BASE}
LABEL org.opencontainers.image.title="tagwire-systemd-check"
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        systemd systemd-sysv >/dev/null \
    && rm -rf /var/lib/apt/lists/*
# docs/deploy.md, "On a small server with systemd", step by step.
RUN useradd --system --home-dir /var/lib/tagwire --no-create-home --shell /usr/sbin/nologin tagwire \
    && install -d -m 0750 -o root -g tagwire /etc/tagwire
COPY --from=app /opt/tagwire /opt/tagwire
COPY tagwire.service tagwire-backup.service tagwire-backup.timer /etc/systemd/system/
# systemd halts on SIGRTMIN+3, not SIGTERM.
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
