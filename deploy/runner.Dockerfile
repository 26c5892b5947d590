# A corral runner, configured by environment (docs/runner.md: RUNNER_SERVER_URL,
# RUNNER_TOKEN, RUNNER_NAME, DOCKER_HOST, DOCKER_EXECUTOR_IMAGE, ...). It runs jobs through
# the host's engine socket, mounted into the container (deploy/docker-compose.runner.yml).
# Build it from a directory holding a built `corral` binary (docs/deploy.md):
#
#   docker build -f deploy/runner.Dockerfile -t corral-runner /tmp/corral-ctx

# The base must be the Debian release the binary was built on (its libraries' sonames).
ARG BASE_IMAGE=debian:12-slim
FROM ${BASE_IMAGE}

# Runtime libraries of the binary; git (and ssh, CA certificates) because the runner clones
# a job's repository itself before the job's container starts.
# Then its user, not root: it gets the engine socket's group at run time (compose: group_add).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates git openssh-client \
      libspdlog1.10 libfmt9 libssl3 libsqlite3-0 libpq5 libyaml-cpp0.7 libdate-tz3 libtcmalloc-minimal4 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 corral \
 && useradd --system --uid 10001 --gid corral --home-dir /var/lib/corral --shell /usr/sbin/nologin corral \
 && mkdir -p /var/lib/corral/workspaces \
 && chown corral:corral /var/lib/corral /var/lib/corral/workspaces && chmod 0750 /var/lib/corral

COPY corral /usr/local/bin/corral
# Fails the build here, not at first start, when a library above is missing.
RUN corral --version

# The workspace must have the same path inside and outside the container: the engine
# bind-mounts job directories by their path on the host.
ENV DOCKER_HOST=unix:///var/run/docker.sock \
    DOCKER_WORKSPACE_BASE=/var/lib/corral/workspaces
USER corral
WORKDIR /var/lib/corral

# SIGTERM drains: running jobs get RUNNER_DRAIN_TIMEOUT_S (600) to finish, so give the
# container that long to stop (compose: stop_grace_period; docker stop -t).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/corral"]
CMD ["runner"]
