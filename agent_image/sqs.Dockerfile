# A local SQS-compatible server: moto in server mode (PyPI moto[server]) on the runtime image's Python.
# Built by `bosun-local images build` when the config says `spool: sqs`, from wheels downloaded on the host.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
USER root
COPY wheels/ /tmp/wheels/
COPY requirements.txt /tmp/sqs-requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels -r /tmp/sqs-requirements.txt \
    && rm -rf /tmp/wheels && /opt/venv/bin/python -c "from bosun_local.spool.sqs.local_server import patch_moto; patch_moto()"
USER bosun
EXPOSE 5000
# moto with its queue operations made atomic (bosun_local/spool/sqs/local_server.py says why).
CMD ["/opt/venv/bin/python", "-m", "bosun_local.spool.sqs.local_server", "-H", "0.0.0.0", "-p", "5000"]
