# deploy/check only: a stand-in for the official `caddy:2` image, which deploy/check cannot pull
# (no Docker Hub here), made from Debian's caddy package (2.6) on the debootstrap base. Like
# that image it runs as root (to listen on 80 and 443), keeps its certificates and state in
# /data and /config, and reads /etc/caddy/Caddyfile; compose.scaled.yaml names the command.
#
#   docker build -f deploy/caddy-check.Dockerfile --build-arg BASE=tagwire-base:bookworm deploy
ARG BASE
FROM ${BASE}
LABEL org.opencontainers.image.title="tagwire-caddy-check"
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends caddy ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
    && mkdir -p /data /config /etc/caddy
ENV XDG_DATA_HOME=/data \
    XDG_CONFIG_HOME=/config
VOLUME ["/data", "/config"]
EXPOSE 80 443
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
