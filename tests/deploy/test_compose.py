"""docker-compose.yml (GPU) and docker-compose.cpu.yml against the compose specification, and the wiring asked for.

check-jsonschema carries the compose-spec JSON schema (`--builtin-schema vendor.compose-spec`, vendored from
github.com/compose-spec/compose-spec, Apache-2.0), so this runs offline. `docker compose config` would be the
reference, but there is no compose plugin here. The CPU override uses Compose's `!reset` tag, which a plain YAML
loader rejects: the override is checked with the tag read as its value, and the merged CPU model is checked too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.tools import COMPOSE, COMPOSE_CPU, check, load_yaml, run

GPU_RESERVATION = {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}


class ComposeLoader(yaml.SafeLoader):
    """Reads Compose's merge tags: `!reset` (drop the inherited value) and `!override` (replace it)."""


class Reset:
    pass


ComposeLoader.add_constructor("!reset", lambda loader, node: Reset())
ComposeLoader.add_constructor("!override", lambda loader, node: loader.construct_object(node, deep=True))


def merge(base: Any, override: Any) -> Any:
    """Compose's merge for the keys our override uses: mappings merge, `!reset` removes, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            if isinstance(value, Reset):
                merged.pop(key, None)
            else:
                merged[key] = merge(merged.get(key), value)
        return merged
    return copy.deepcopy(override)


def without_tags(node: Any) -> Any:
    """The override as plain YAML for the schema: `!reset` read as null (the schema allows null there)."""
    if isinstance(node, dict):
        return {key: without_tags(value) for key, value in node.items()}
    if isinstance(node, list):
        return [without_tags(value) for value in node]
    return None if isinstance(node, Reset) else node


def validate(model: dict[str, Any], path: Path) -> None:
    path.write_text(yaml.safe_dump(model, sort_keys=False))
    check("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path))


@pytest.fixture(scope="module")
def gpu() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def cpu(gpu: dict[str, Any]) -> dict[str, Any]:
    override = yaml.load(COMPOSE_CPU.read_text(), Loader=ComposeLoader)  # a SafeLoader subclass
    # The merge above is exact only for these keys; a new kind of override needs a look at Compose's merge rules.
    for name, service in override["services"].items():
        assert set(service) <= {"build", "image", "command", "deploy"}, f"{name}: {set(service)}"
    return merge(gpu, override)


def test_compose_file_matches_the_compose_spec() -> None:
    check("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE.relative_to(REPO)))


def test_cpu_override_and_cpu_model_match_the_compose_spec(cpu: dict[str, Any], tmp_path: Path) -> None:
    override = yaml.load(COMPOSE_CPU.read_text(), Loader=ComposeLoader)
    validate(without_tags(override), tmp_path / "override.yml")
    validate(cpu, tmp_path / "cpu.yml")


def test_the_schema_check_catches_a_misspelt_gpu_reservation(gpu: dict[str, Any], tmp_path: Path) -> None:
    broken = copy.deepcopy(gpu)
    device = broken["services"]["triton"]["deploy"]["resources"]["reservations"]["devices"][0]
    device["capabilitiez"] = device.pop("capabilities")
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    result = run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(tmp_path / "broken.yml"))
    assert result.returncode == 1 and "capabilities" in result.stdout + result.stderr


def test_services_start_in_order(gpu: dict[str, Any]) -> None:
    services = gpu["services"]
    assert services["engine-builder"]["restart"] == "no"
    triton_needs = services["triton"]["depends_on"]["engine-builder"]
    assert triton_needs["condition"] == "service_completed_successfully"
    assert services["gateway"]["depends_on"]["triton"]["condition"] == "service_healthy"
    assert "/v2/health/ready" in " ".join(services["triton"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert services["gateway"]["environment"]["RARE_TRITON_URL"] == "triton:8001"


def test_gpu_services_reserve_one_nvidia_gpu(gpu: dict[str, Any]) -> None:
    for name in ("engine-builder", "triton"):
        devices = gpu["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [GPU_RESERVATION], name
    assert "deploy" not in gpu["services"]["gateway"], "the gateway needs no GPU"


def test_triton_and_its_builder_come_from_one_ngc_release(gpu: dict[str, Any]) -> None:
    for name, target in (("engine-builder", "engine-builder"), ("triton", "triton")):
        build = gpu["services"][name]["build"]
        assert (build["dockerfile"], build["target"]) == ("docker/ngc.Dockerfile", target)
    assert gpu["services"]["engine-builder"]["command"][0] == "--target=tensorrt"


def test_cpu_variant_reserves_no_gpu_and_builds_for_the_fastest_cpu_engine(cpu: dict[str, Any]) -> None:
    assert "nvidia" not in yaml.safe_dump(cpu), "the CPU variant still asks for a GPU"
    builder = cpu["services"]["engine-builder"]
    assert builder["command"][0] == "--target=cpu"
    assert (builder["build"]["dockerfile"], builder["build"]["target"]) == ("docker/gateway.Dockerfile", "repo-builder")


def test_the_gateway_container_is_locked_down(gpu: dict[str, Any]) -> None:
    gateway = gpu["services"]["gateway"]
    assert gateway["read_only"] is True and gateway["cap_drop"] == ["ALL"]
    assert gateway["build"]["target"] == "gateway"


def test_prometheus_scrapes_the_gateway_and_triton_metrics_port(gpu: dict[str, Any]) -> None:
    config = load_yaml(REPO / "monitoring" / "prometheus" / "prometheus.yml")
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets["rare-gateway"] == ["gateway:8080"]
    assert targets["rare-triton"] == ["triton:8002"]
    assert "8002" in gpu["services"]["triton"]["expose"]


def test_bind_mounts_exist_and_grafana_is_provisioned(gpu: dict[str, Any]) -> None:
    for name, service in gpu["services"].items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
    provider = load_yaml(REPO / "monitoring" / "grafana" / "provisioning" / "dashboards" / "rare.yml")
    mounted = {v.split(":")[1] for v in gpu["services"]["grafana"]["volumes"]}
    assert provider["providers"][0]["options"]["path"] in mounted
    datasource = load_yaml(REPO / "monitoring" / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
