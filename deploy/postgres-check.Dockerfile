# deploy/check only: a stand-in for the official `postgres:15` image, which deploy/check cannot
# pull (no Docker Hub here), made from Debian's postgresql-15 on the debootstrap base. It keeps
# the part of that image's contract compose.scaled.yaml relies on, and nothing more:
#   - POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB: on first start (an empty data folder)
#     the cluster is made with that user as its superuser, that password, that database;
#   - the data in /var/lib/postgresql/data (PGDATA), the server listening on every address of
#     the container with password (scram-sha-256) logins from other hosts;
#   - pg_isready and psql on PATH; SIGINT (a fast shutdown) to stop.
#
#   docker build -f deploy/postgres-check.Dockerfile --build-arg BASE=tagwire-base:bookworm deploy
ARG BASE
FROM ${BASE}
LABEL org.opencontainers.image.title="tagwire-postgres-check"
# No cluster made by the package (the entrypoint makes one in the volume), no service started
# during the build (there is no init system here to start it).
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
    && mkdir -p /etc/postgresql-common/createcluster.d \
    && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main-cluster.conf \
    && apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
    && install -d -m 0700 -o postgres -g postgres /var/lib/postgresql/data \
    && install -d -m 2775 -o postgres -g postgres /var/run/postgresql
COPY postgres-check-entrypoint /usr/local/bin/postgres-check-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
VOLUME ["/var/lib/postgresql/data"]
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-check-entrypoint"]
CMD ["postgres"]
