# RabbitMQ from Debian's rabbitmq-server with the management plugin (no registry needed).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/* \
    && rabbitmq-plugins enable --offline rabbitmq_management
COPY rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
# A cheap answer to the epmd monitor's one-off VM every minute (the file says why).
COPY rabbitmq-erl-wrapper.sh /tmp/erl-wrapper
RUN install -m 755 /tmp/erl-wrapper "$(ls -d /usr/lib/erlang/erts-*)/bin/erl" && rm /tmp/erl-wrapper
RUN chmod 755 /usr/local/bin/rabbitmq-entrypoint
EXPOSE 5672 15672
ENTRYPOINT ["/usr/local/bin/rabbitmq-entrypoint"]
CMD ["rabbitmq-server"]
