"""Every metric the dashboard, the alert/recording rules and prometheus-adapter (hence the Triton HPA) name is
exported by a running gateway or a running Triton, or is a recording rule built from such metrics.

The names come from the live /metrics of a real gateway (in front of the CPU tritonserver of the session) and of
that tritonserver's metrics port, after traffic that touches every gateway metric.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from local_triton.server import TritonProcess
from tests.conftest import val_crops
from tests.deploy.promql import all_queries, unresolved
from tests.service.conftest import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.integration

# Triton exports these only where it sees a GPU; the CPU tritonserver here has none. The list is Triton's "GPU
# Metrics" table (triton-inference-server/server docs/user_guide/metrics.md: utilization, memory, power, energy).
TRITON_GPU_ONLY = {
    "nv_gpu_utilization",
    "nv_gpu_memory_total_bytes",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_power_usage",
    "nv_gpu_power_limit",
    "nv_energy_consumption",
}
# Prometheus itself writes `up` for every scrape target (prometheus.io/docs/concepts/jobs_instances).
PROMETHEUS_OWN = {"up"}
SAMPLE_NAME = re.compile(r"[A-Za-z_:][\w:]*")


def scrape(url: str) -> tuple[set[str], set[str]]:
    """(declared families, sample names) exactly as written in the exposition text. Not prometheus_client's
    parser: it renames counter samples to `_total`, which Triton's counters (nv_inference_count) do not have."""
    with urllib.request.urlopen(url, timeout=10) as response:
        lines = response.read().decode().splitlines()
    declared = {line.split()[2] for line in lines if line.startswith("# TYPE ")}
    samples = {SAMPLE_NAME.match(line).group() for line in lines if line and not line.startswith("#")}
    return declared, samples


@pytest.fixture(scope="module")
def gateway(triton_server: TritonProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"RARE_TRITON_URL": triton_server.grpc_url, "RARE_TRITON_MODEL": "rare"}
    gw = start_gateway(env, tmp_path_factory.mktemp("monitoring") / "gateway.log", ready_path="/readyz")
    yield gw
    stop_gateway(gw)


@pytest.fixture(scope="module")
def exported(gateway: Gateway, triton_server: TritonProcess) -> set[str]:
    # One good and one undecodable crop: every stage, the crop outcomes and an error reason get a sample.
    ((path, _),) = val_crops("IIIT5K", 1)
    files = [("images", ("word.jpg", path.read_bytes(), "image/jpeg")), ("images", ("bad.png", b"nope", "image/png"))]
    response = httpx.post(gateway.url + "/recognize", files=files, timeout=60)
    assert response.status_code == 200, response.text
    gateway_declared, gateway_samples = scrape(gateway.url + "/metrics")
    triton_declared, triton_samples = scrape(triton_server.metrics_url)
    declared, samples = gateway_declared | triton_declared, gateway_samples | triton_samples
    silent = sorted(
        family
        for family in declared
        if family.startswith(("rare_", "nv_")) and not any(s == family or s.startswith(family + "_") for s in samples)
    )
    assert not silent, f"families without samples after traffic (their series names are unknown): {silent}"
    return samples


def test_gateway_and_triton_export_what_the_dashboard_is_built_on(exported: set[str]) -> None:
    # A sanity floor for the live scrape itself: both processes answered with their own metrics.
    assert {"rare_stage_duration_seconds_bucket", "rare_errors_total", "rare_backend_ready"} <= exported
    assert {"nv_inference_count", "nv_inference_exec_count", "nv_inference_queue_duration_us"} <= exported
    assert not TRITON_GPU_ONLY & exported, "this Triton has a GPU: drop the allow-list and check them for real"


def test_every_metric_the_deployment_queries_is_exported(exported: set[str]) -> None:
    missing = unresolved(all_queries(), exported | TRITON_GPU_ONLY | PROMETHEUS_OWN)
    assert not missing, "queries name metrics that nobody exports:\n" + "\n".join(missing)


def test_the_queries_cover_the_dashboard_rules_and_adapter() -> None:
    # tests/deploy/test_k8s.py checks that each HPA custom metric is one that an adapter rule serves.
    sources = [source for source, _ in all_queries()]
    assert any(s.startswith("adapter ") for s in sources), "prometheus-adapter queries (the HPA metric) not read"
    assert "rare:triton_queue_us_per_request:rate1m" in sources and "Average batch size" in sources
