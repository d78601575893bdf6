"""Bad input: each gets its status and a message naming the problem; never a 500, and the server keeps serving."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pps.conftest import PPSServer
from tests.pps.packages import DIABETES, ROW

HEADER = ",".join(DIABETES)
VALUES = ",".join(str(ROW[n]) for n in DIABETES)
CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
LIMIT = 4096


def v2(inputs: object) -> bytes:
    import json

    return json.dumps({"inputs": inputs}).encode()


def v2_binary(datatype: str, raw: bytes, size: int | None = None) -> tuple[dict[str, str], bytes]:
    """Return headers and body of a binary V2 request: one [1, 10] tensor of `raw` bytes after the JSON header."""
    import json

    head = json.dumps({"inputs": [{"name": "m", "shape": [1, 10], "datatype": datatype,
                                   "parameters": {"binary_data_size": len(raw) if size is None else size}}]}).encode()
    return {"Inference-Header-Content-Length": str(len(head))}, head + raw


# (id, method, path, headers, body, status, words the message must contain)
CASES: list[tuple[str, str, str, dict[str, str], bytes, int, list[str]]] = [
    ("empty body", "POST", "/predictions", CSV, b"", 400, ["body is empty"]),
    ("malformed json", "POST", "/predictions", JSON, b'[{"age": 1,', 400, ["not valid JSON", "line 1"]),
    ("json scalar", "POST", "/predictions", JSON, b"42", 400, ["list of row objects"]),
    ("json row not object", "POST", "/predictions", JSON, b"[[1, 2]]", 422, ["row 0", "expected an object"]),
    ("no rows", "POST", "/predictions", JSON, b"[]", 422, ["no rows"]),
    ("missing column", "POST", "/predictions", JSON,
     ('[{"' + '":1,"'.join(DIABETES[:-1]) + '":1}]').encode(), 422, ["missing column(s): s6"]),
    ("extra column", "POST", "/predictions", JSON,
     ('[{"' + '":1,"'.join(DIABETES) + '":1,"shoe_size":44}]').encode(), 422, ["unknown column(s): shoe_size"]),
    ("wrong type string", "POST", "/predictions", CSV, f"{HEADER}\n{VALUES.replace('23', 'abc', 1)}\n".encode(),
     422, ["column 'bmi' row 0", "'abc' is not a number"]),
    ("wrong type bool", "POST", "/predictions", JSON,
     ('[{"' + '":1,"'.join(DIABETES[:-1]) + '":1,"s6":true}]').encode(), 422, ["column 's6'", "expected a number"]),
    ("non-finite", "POST", "/predictions", CSV, f"{HEADER}\n{VALUES.replace('157', 'inf', 1)}\n".encode(),
     422, ["column 's1'", "not a finite number"]),
    ("csv ragged row", "POST", "/predictions", CSV, f"{HEADER}\n{VALUES},7\n".encode(), 400,
     ["CSV line 2 has 11 fields", "header has 10"]),
    ("csv unterminated quote", "POST", "/predictions", CSV, f'{HEADER}\n"30,1\n'.encode(), 400, ["malformed CSV"]),
    ("csv duplicate header", "POST", "/predictions", CSV, f"{HEADER},age\n{VALUES},1\n".encode(), 422,
     ["names column(s) twice: age"]),
    ("csv header only", "POST", "/predictions", CSV, f"{HEADER}\n".encode(), 422, ["no rows"]),
    ("not utf-8", "POST", "/predictions", CSV, b"\xff\xfe\x00age\n", 400, ["not UTF-8"]),
    ("unsupported type", "POST", "/predictions", {"Content-Type": "application/xml"}, b"<a/>", 415,
     ["application/xml", "text/csv"]),
    ("too large", "POST", "/predictions", CSV, HEADER.encode() + b"\n" + (VALUES.encode() + b"\n") * 200, 413,
     ["over the limit of 4096 bytes", "PPS_MAX_BODY_BYTES"]),
    ("form missing field", "GET", "/predict", FORM_TYPE, b"age=30&sex=1", 422, ["missing column(s): bmi"]),
    ("form bad number", "GET", "/predict", FORM_TYPE,
     "&".join(f"{n}={'x' if n == 'bp' else ROW[n]}" for n in DIABETES).encode(), 422, ["column 'bp'", "'x'"]),
    ("form twice", "GET", "/predict", FORM_TYPE,
     ("&".join(f"{n}={ROW[n]}" for n in DIABETES) + "&age=3").encode(), 422, ["'age' is given twice"]),
    ("form none", "GET", "/predict", FORM_TYPE, b"", 400, ["no form fields"]),
    ("form json type", "POST", "/predict", JSON, b'{"age": 1}', 415, ["form fields", "/predictions"]),
    ("v2 no inputs", "POST", "/v2/models/diabetes/infer", JSON, b'{"x": 1}', 400, ["\"inputs\""]),
    ("v2 bad shape", "POST", "/v2/models/diabetes/infer", JSON,
     v2([{"name": "m", "shape": [1, 10], "datatype": "FP64", "data": [1, 2]}]), 400, ["has 2 values", "[1, 10]"]),
    ("v2 bad datatype", "POST", "/v2/models/diabetes/infer", JSON,
     v2([{"name": "m", "shape": [1, 10], "datatype": "FP99", "data": list(range(10))}]), 400, ["FP99"]),
    ("v2 wrong width", "POST", "/v2/models/diabetes/infer", JSON,
     v2([{"name": "m", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]), 400, ["[rows, 10]"]),
    ("v2 missing feature", "POST", "/v2/models/diabetes/infer", JSON,
     v2([{"name": n, "shape": [1], "datatype": "FP64", "data": [1]} for n in DIABETES[1:]]), 400,
     ["missing input(s): age"]),
    ("v2 unequal rows", "POST", "/v2/models/diabetes/infer", JSON,
     v2([{"name": n, "shape": [2 if n == "age" else 1], "datatype": "FP64", "data": [1, 2] if n == "age" else [1]}
         for n in DIABETES]), 400, ["different row counts"]),
    ("v2 text not a number", "POST", "/v2/models/diabetes/infer", JSON,
     v2([{"name": n, "shape": [1], "datatype": "BYTES", "data": ["x" if n == "bp" else "1"]} for n in DIABETES]), 400,
     ["column 'bp'", "'x' is not a number"]),
    ("v2 binary BYTES overrun", "POST", "/v2/models/diabetes/infer", *v2_binary("BYTES", b"\xff\0\0\0ab"), 400,
     ["runs past the end"]),
    ("v2 binary BOOL for numbers", "POST", "/v2/models/diabetes/infer", *v2_binary("BOOL", b"\1" * 10), 400,
     ["expected numbers, got a BOOL tensor"]),
    ("v2 binary bytes left over", "POST", "/v2/models/diabetes/infer", *v2_binary("FP64", b"\0" * 88, 80), 400,
     ["8 bytes after the last binary tensor"]),
    ("v2 binary wrong size", "POST", "/v2/models/diabetes/infer", *v2_binary("FP32", b"\0" * 36), 400,
     ["36 bytes of FP32 data, the shape needs 40"]),
    ("v2 binary without header length", "POST", "/v2/models/diabetes/infer", {}, b'{"inputs": []}\xff\x00', 400,
     ["Inference-Header-Content-Length"]),
]


@pytest.fixture(scope="module")
def server(packages: dict[str, Path]) -> Iterator[PPSServer]:
    """A regression server with a small body limit, so the 413 case stays small."""
    srv = PPSServer({"PPS_MODEL_DIR": str(packages["regression"]), "PPS_MAX_BODY_BYTES": str(LIMIT)})
    try:
        yield srv.wait_ready()
    finally:
        srv.stop()


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(server: PPSServer, method: str, path: str, headers: dict[str, str], body: bytes, status: int,
                   words: list[str]) -> None:
    resp = server.client.request(method, path, content=body, headers=headers)
    assert resp.status_code == status, resp.text
    doc = resp.json()
    message = doc.get("message") or doc.get("error")
    for word in words:
        assert word in message, message
    # The same server keeps answering good requests.
    ok = server.client.post("/predictions", json=[ROW])
    assert ok.status_code == 200 and server.proc.poll() is None


def test_missing_values_score_or_fail_clearly(server: PPSServer) -> None:
    """An empty numeric cell is a missing value; LinearRegression cannot take NaN, so that is a 422, not a 500."""
    body = f"{HEADER}\n{VALUES.replace('23', '', 1)}\n".encode()
    resp = server.client.post("/predictions", content=body, headers=CSV)
    assert resp.status_code == 422 and "the model rejected the input" in resp.json()["message"]


def test_client_disconnect_mid_body_leaves_server_serving(server: PPSServer) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: 1000\r\n\r\nage")
    assert server.client.post("/predictions", json=[ROW]).status_code == 200
