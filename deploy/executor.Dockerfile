# The image jobs run in (DOCKER_EXECUTOR_IMAGE): sh, git over https and ssh, a non-root
# user, /workspace as the working directory (the runner mounts the job's checkout there).
# Add what your jobs need (compilers, node, ...) in an image FROM this one.
#
#   docker build -f deploy/executor.Dockerfile -t corral-executor deploy/

ARG BASE_IMAGE=debian:12-slim
FROM ${BASE_IMAGE}

# git, ssh and CA certificates for the jobs' own git; then the user, uid 1000 (the usual
# first user), so files a job leaves in the workspace are not root's.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 ci \
 && useradd --uid 1000 --gid ci --home-dir /home/ci --create-home --shell /bin/sh ci \
 && mkdir -p /workspace && chown ci:ci /workspace

ENV HOME=/home/ci
USER ci
WORKDIR /workspace
CMD ["/bin/sh"]
