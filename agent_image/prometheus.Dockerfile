# Prometheus from Debian's own package (no registry needed), for `bosun-local up --with prometheus`.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && prometheus --version && promtool --version \
    && mkdir -p /prometheus && chmod 1777 /prometheus
# A new named volume copies this directory's mode: any uid the stack runs Prometheus as may write its data.
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
