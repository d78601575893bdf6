# A Docker engine in a container (Debian's docker.io): one node of a multi-node swarm made by tests and benches.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       docker.io iptables iproute2 procps ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY swarm-node-entrypoint.sh /usr/local/bin/swarm-node-entrypoint
RUN chmod 755 /usr/local/bin/swarm-node-entrypoint
# overlay2 cannot sit on the container's own overlay root: the engine's store is a volume.
VOLUME /var/lib/docker
EXPOSE 2375 2377 7946 4789/udp
ENTRYPOINT ["/usr/local/bin/swarm-node-entrypoint"]
