"""Open Inference Protocol (V2) bodies: JSON tensors and Triton's binary tensor data extension, both ways."""
from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bosun_local.pps.inputs import InputError

HEADER_LENGTH = b"inference-header-content-length"
# Every multi-byte type is little-endian on the wire (the extension says so; numpy's "<" makes it explicit).
NUMPY_TYPES: dict[str, str] = {
    "BOOL": "?", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "INT8": "i1", "INT16": "<i2",
    "INT32": "<i4", "INT64": "<i8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}
DATATYPES = (*NUMPY_TYPES, "BF16", "BYTES")


def bad(message: str) -> InputError:
    """Return the 400 the protocol (and its generated clients) expect for a request the client must fix."""
    return InputError(400, message)


@dataclass(slots=True)
class Tensor:
    """One input tensor: a flat numpy array (numeric) or a flat list of str/bytes (BYTES)."""

    name: str
    datatype: str
    shape: list[int]
    values: Any
    from_binary: bool = False

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1


@dataclass(slots=True)
class RequestedOutput:
    """An output the client asked for: binary or JSON, and top-k classification when asked."""

    name: str
    binary: bool
    classification: int = 0


@dataclass(slots=True)
class InferRequest:
    """A parsed V2 inference request."""

    id: str | None
    inputs: list[Tensor]
    outputs: list[RequestedOutput] | None  # None: every output the model has
    binary_output: bool  # the request-level default (tritonclient sets it when it names no outputs)
    parameters: dict[str, Any] = field(default_factory=dict)


def decompress(body: bytes, encoding: str | None, limit: int | None = None) -> bytes:
    """Undo a request's Content-Encoding (tritonclient can gzip or deflate the body); 413 past `limit` bytes."""
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise InputError(415, f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none")
    # wbits: 16+ reads a gzip member, + reads a zlib stream; bounded so a small bomb cannot fill the memory.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    cap = len(body) * 1032 + 1024 if limit is None else limit  # 1032: deflate's maximum ratio
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        raise bad(f"the body is not valid {encoding} data: {exc}") from None
    if len(out) > cap:
        raise InputError(413, f"the {encoding} body inflates to more than the limit of {cap} bytes "
                              "(PPS_MAX_BODY_BYTES); send fewer rows per request")
    if not inflater.eof:
        raise bad(f"the body is not valid {encoding} data: it ends early")
    return out


def _header(body: bytes, header_length: str | None) -> tuple[Any, bytes]:
    """Split the body into the decoded JSON header and the binary tail."""
    if header_length is None:
        head, tail = body, b""
    else:
        try:
            size = int(header_length)
        except ValueError:
            raise bad(f"Inference-Header-Content-Length {header_length!r} is not a number") from None
        if size < 0 or size > len(body):
            raise bad(f"Inference-Header-Content-Length is {size} but the body has {len(body)} bytes")
        head, tail = body[:size], body[size:]
    if not head.strip():
        raise bad("the request body is empty; send {\"inputs\": [...]}")
    try:
        return json.loads(head), tail
    except UnicodeDecodeError:
        raise bad("the JSON header is not UTF-8 text; binary tensors need the Inference-Header-Content-Length "
                  "header giving the JSON part's size") from None
    except json.JSONDecodeError as exc:
        hint = "" if header_length is not None else " (binary tensor data needs the Inference-Header-Content-Length " \
                                                     "header)"
        raise bad(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None
    except RecursionError:
        raise bad("the JSON body nests deeper than the decoder's limit; send flat tensors") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() converts
        raise bad(f"the body is not valid JSON: {exc}") from None


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if data and isinstance(data[0], list):
        out: list[Any] = []
        for item in data:
            out.extend(_flatten(item))
        return out
    return data


def decode_bytes(raw: bytes, count: int, name: str) -> list[bytes]:
    """Decode a BYTES tensor: each element is a 4-byte little-endian length and that many bytes."""
    out: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise bad(f"input {name!r}: BYTES data ends inside an element's 4-byte length prefix")
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise bad(f"input {name!r}: a BYTES element of {size} bytes runs past the end of its data")
        out.append(raw[offset:offset + size])
        offset += size
    if len(out) != count:
        raise bad(f"input {name!r} has {len(out)} BYTES elements but its shape needs {count}")
    return out


def encode_bytes(values: list[Any]) -> bytes:
    """Encode BYTES elements (str as UTF-8) with their 4-byte little-endian length prefixes."""
    parts: list[bytes] = []
    for value in values:
        data = value if isinstance(value, bytes) else str(value).encode()
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)


def _binary_values(name: str, datatype: str, raw: bytes, count: int) -> Any:
    if datatype == "BYTES":
        return decode_bytes(raw, count, name)
    if datatype == "BF16":  # the top half of a float32
        width = 2
        if len(raw) != count * width:
            raise bad(f"input {name!r}: {len(raw)} bytes of BF16 data, the shape needs {count * width}")
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    dtype = np.dtype(NUMPY_TYPES[datatype])
    if len(raw) != count * dtype.itemsize:
        raise bad(f"input {name!r}: {len(raw)} bytes of {datatype} data, the shape needs {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype)


def _tensor(item: Any, i: int, tail: bytes, offset: int) -> tuple[Tensor, int]:
    if not isinstance(item, dict):
        raise bad(f"inputs[{i}] must be an object with name, shape, datatype and data")
    name, shape, datatype = item.get("name"), item.get("shape"), item.get("datatype")
    if not isinstance(name, str):
        raise bad(f"inputs[{i}] has no name")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in shape):
        raise bad(f"input {name!r} needs a shape: a list of sizes like [3] or [3, 10]")
    if datatype not in DATATYPES:
        raise bad(f"input {name!r} has datatype {datatype!r}; use one of {', '.join(DATATYPES)}")
    count = math.prod(shape)
    params = item.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad(f"input {name!r}: parameters must be an object")
    if "shared_memory_region" in params:
        raise bad(f"input {name!r} is in shared memory; this server takes tensors in the body only")
    size = params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0:
            raise bad(f"input {name!r}: binary_data_size must be a byte count")
        if "data" in item:
            raise bad(f"input {name!r} has both data and binary_data_size; give one")
        if offset + size > len(tail):
            raise bad(f"input {name!r}: binary_data_size {size} runs past the end of the body "
                      f"({len(tail) - offset} bytes left)")
        values = _binary_values(name, datatype, tail[offset:offset + size], count)
        return Tensor(name, datatype, shape, values, True), offset + size
    data = item.get("data")
    if data is None:
        raise bad(f"input {name!r} has no data (and no binary_data_size parameter)")
    flat = _flatten(data)
    if len(flat) != count:
        raise bad(f"input {name!r} has {len(flat)} values but shape {shape} needs {count}")
    return Tensor(name, datatype, shape, flat), offset


def _outputs(doc: dict[str, Any], default_binary: bool) -> list[RequestedOutput] | None:
    raw = doc.get("outputs")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad("\"outputs\" must be a list of {\"name\": ...} objects")
    wanted: list[RequestedOutput] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad(f"outputs[{i}] must be an object with a name")
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise bad(f"output {item['name']!r}: parameters must be an object")
        if "shared_memory_region" in params:
            raise bad(f"output {item['name']!r} asks for shared memory; this server answers in the body only")
        top = params.get("classification", 0)
        if not isinstance(top, int) or isinstance(top, bool) or top < 0:
            raise bad(f"output {item['name']!r}: classification must be a non-negative class count")
        wanted.append(RequestedOutput(item["name"], bool(params.get("binary_data", default_binary)), top))
    return wanted


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """Parse a V2 inference request, JSON or with binary tensors after the JSON header."""
    doc, tail = _header(body, header_length)
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise bad("a V2 request needs \"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}, ...]")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad("the request's parameters must be an object")
    binary_output = bool(params.get("binary_data_output", False))
    inputs: list[Tensor] = []
    offset = 0
    for i, item in enumerate(doc["inputs"]):
        tensor, offset = _tensor(item, i, tail, offset)
        inputs.append(tensor)
    if offset != len(tail):
        raise bad(f"the body has {len(tail) - offset} bytes after the last binary tensor; binary_data_size "
                  "parameters must add up to the bytes after the JSON header")
    request_id = doc.get("id") if isinstance(doc.get("id"), str) else None
    return InferRequest(request_id, inputs, _outputs(doc, binary_output), binary_output, params)


@dataclass(slots=True)
class OutputTensor:
    """One output to send: numeric values as a numpy array, BYTES as a list of str."""

    name: str
    datatype: str
    shape: list[int]
    values: Any
    parameters: dict[str, Any] = field(default_factory=dict)


def _json_data(tensor: OutputTensor) -> list[Any]:
    if tensor.datatype == "BYTES":
        return [v.decode(errors="replace") if isinstance(v, bytes) else v for v in tensor.values]
    values = np.asarray(tensor.values).reshape(-1).tolist()
    # JSON has no NaN/inf: send null, as the other routes do.
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]


def _raw(tensor: OutputTensor) -> bytes:
    if tensor.datatype == "BYTES":
        return encode_bytes(list(tensor.values))
    return np.ascontiguousarray(tensor.values, dtype=np.dtype(NUMPY_TYPES[tensor.datatype])).tobytes()


def render_response(model_name: str, version: str | None, request_id: str | None,
                    outputs: list[tuple[OutputTensor, bool]]) -> tuple[bytes, int | None]:
    """Return the response body and, when any output is binary, the JSON header's length."""
    docs: list[dict[str, Any]] = []
    tails: list[bytes] = []
    for tensor, binary in outputs:
        doc: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        params = dict(tensor.parameters)
        if binary:
            raw = _raw(tensor)
            params["binary_data_size"] = len(raw)
            tails.append(raw)
        else:
            doc["data"] = _json_data(tensor)
        if params:
            doc["parameters"] = params
        docs.append(doc)
    head: dict[str, Any] = {"model_name": model_name}
    if version:
        head["model_version"] = version
    if request_id is not None:
        head["id"] = request_id
    head["outputs"] = docs
    header = json.dumps(head, separators=(",", ":"), allow_nan=False).encode()
    if not tails:
        return header, None
    return header + b"".join(tails), len(header)
