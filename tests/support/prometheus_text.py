"""Read a /metrics answer with Prometheus' own text-format parser (prometheus_client.parser)."""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Return every sample as {(name, sorted labels): value}; a sample seen twice fails the test."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = sample.value
    return samples


def scrape(client: httpx.Client, path: str = "/metrics", **kwargs: object) -> Samples:
    """GET a metrics path, check the content type, and parse it."""
    response = client.get(path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PROMETHEUS_TEXT
    return parse(response.text)


def value(samples: Samples, name: str, /, **labels: str) -> float:
    """Return one sample's value, 0 when the series does not exist (a counter never touched)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Return every series of one sample name."""
    return {labels: v for (n, labels), v in samples.items() if n == name}
