# The corral server: HTTP API, queue, runner registry, dashboard. SQLite lives in the volume
# /var/lib/corral (or point CORRAL_STORE at PostgreSQL). Build it from a directory holding a
# built `corral` binary (docs/deploy.md):
#
#   mkdir -p /tmp/corral-ctx && cp build/corral /tmp/corral-ctx/
#   docker build -f deploy/server.Dockerfile -t corral-server /tmp/corral-ctx
#
# (Podman: add --format docker, or the OCI format drops the HEALTHCHECK.)

# The base must be the Debian release the binary was built on (its libraries' sonames).
ARG BASE_IMAGE=debian:12-slim
FROM ${BASE_IMAGE}

# Runtime libraries of the binary (objdump -p corral | grep NEEDED), tzdata for the nightly
# refresh's time zones, curl for the HEALTHCHECK; then the user, with a fixed uid so a
# bind-mounted data directory can be chowned to it beforehand.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl tzdata \
      libspdlog1.10 libfmt9 libssl3 libsqlite3-0 libpq5 libyaml-cpp0.7 libdate-tz3 libtcmalloc-minimal4 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 corral \
 && useradd --system --uid 10001 --gid corral --home-dir /var/lib/corral --shell /usr/sbin/nologin corral \
 && mkdir -p /var/lib/corral && chown corral:corral /var/lib/corral && chmod 0750 /var/lib/corral

COPY corral /usr/local/bin/corral
# Fails the build here, not at first start, when a library above is missing.
RUN corral --version

ENV CORRAL_LISTEN=0.0.0.0:8080 \
    CORRAL_DATA_DIR=/var/lib/corral
VOLUME /var/lib/corral
EXPOSE 8080
USER corral
WORKDIR /var/lib/corral

# The port follows CORRAL_LISTEN; /healthz needs no token.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${CORRAL_LISTEN##*:}/healthz" || exit 1

# `docker run IMAGE --version`, `docker exec CONTAINER corral tokens create ...` work too.
ENTRYPOINT ["/usr/local/bin/corral"]
CMD ["server"]
