"""k8s/: each overlay rendered by `kubectl kustomize`, validated strictly, and checked for what the issue asks.

kubernetes-validate bundles the Kubernetes JSON schemas (no cluster, no network); `--strict` rejects unknown
fields. It has no schema for the Prometheus Operator CRDs: those are SKIPPED below, by name, and checked here
instead (PrometheusRule groups through promtool, monitors against the Services and pods they select).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.promql import adapter_rules
from tests.deploy.tools import (
    DASHBOARD,
    OVERLAYS,
    check,
    containers,
    find,
    kustomize,
    manifests,
    rule_groups,
    run,
)

# The oldest Kubernetes minor we claim (docs/deploy.md) and the newest kubernetes-validate bundles.
K8S_VERSIONS = ("1.30.0", "1.37.0")
# Kinds without a schema in kubernetes-validate: validated by the tests below, never silently.
SKIPPED = {
    ("ServiceMonitor", "monitoring.coreos.com/v1"),
    ("PodMonitor", "monitoring.coreos.com/v1"),
    ("PrometheusRule", "monitoring.coreos.com/v1"),
}
NO_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")


def validate(path: Path, version: str) -> tuple[int, set[tuple[str, str]], list[str]]:
    """kubernetes-validate --strict: (resources passed, kinds without a schema, any other output lines)."""
    result = run("kubernetes-validate", "--strict", "-k", version, str(path))
    passed, skipped, other = 0, set(), []
    for line in (result.stdout + result.stderr).splitlines():
        if "passed for resource" in line:
            passed += 1
        elif match := NO_SCHEMA.search(line):
            skipped.add(match.groups())
        elif line.strip():
            other.append(line)
    if result.returncode != 0:
        other.append(f"exit status {result.returncode}")
    return passed, skipped, other


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_strict_schema_validation(overlay: str, version: str, tmp_path: Path) -> None:
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(kustomize(overlay))
    passed, skipped, other = validate(path, version)
    assert not other, "\n".join(other)
    assert skipped == SKIPPED, f"kinds without a schema changed: {sorted(skipped)}"
    assert passed == len([d for d in manifests(overlay) if (d["kind"], d["apiVersion"]) not in SKIPPED])


def test_strict_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(kustomize("gpu").replace("readinessProbe:", "readynessProbe:", 1))
    _, _, other = validate(path, K8S_VERSIONS[-1])
    assert any("readynessProbe" in line for line in other), other


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_builds_its_repository_at_start_and_is_probed(overlay: str) -> None:
    triton = find(manifests(overlay), "Deployment", "rare-triton")
    (builder,) = containers(triton, init=True).values()
    server = containers(triton)["triton"]
    target = {"gpu": "--target=tensorrt", "cpu": "--target=cpu"}[overlay]
    assert builder["args"][0] == target
    image = {"gpu": "rare-engine-builder", "cpu": "rare-repo-builder"}[overlay]
    assert builder["image"].rsplit("/", 1)[-1].startswith(image + ":")
    gpus = [c["resources"]["limits"].get("nvidia.com/gpu") for c in (builder, server)]
    assert gpus == ([1, 1] if overlay == "gpu" else [None, None])
    assert server["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert server["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {p["containerPort"] for p in server["ports"]} == {8000, 8001, 8002}
    assert triton["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for container in (builder, server):
        assert container["resources"]["requests"], f"{container['name']} has no resource requests"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_is_non_root_with_a_read_only_root_filesystem(overlay: str) -> None:
    gateway = find(manifests(overlay), "Deployment", "rare-gateway")
    pod = gateway["spec"]["template"]["spec"]
    container = containers(gateway)["gateway"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_pdbs_and_images_match_the_deployments(overlay: str) -> None:
    docs = manifests(overlay)
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        name, labels = deployment["metadata"]["name"], deployment["spec"]["template"]["metadata"]["labels"]
        service, pdb = find(docs, "Service", name), find(docs, "PodDisruptionBudget", name)
        assert service["spec"]["selector"].items() <= labels.items()
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ports = {p["name"] for c in containers(deployment).values() for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
        for container in [*containers(deployment).values(), *containers(deployment, init=True).values()]:
            assert re.fullmatch(r"[\w.-]+(/[\w.-]+)+:[\w.-]+", container["image"]), container["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpas_scale_triton_on_queue_time_and_the_gateway_on_cpu(overlay: str) -> None:
    docs = manifests(overlay)
    served = {rule["name"]["as"] for rule in adapter_rules()}
    for name, expected in (("rare-triton", "Pods"), ("rare-gateway", "Resource")):
        hpa = find(docs, "HorizontalPodAutoscaler", name)
        assert hpa["apiVersion"] == "autoscaling/v2"
        find(docs, hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"])
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == expected
        if expected == "Pods":
            # A custom metric nobody serves leaves the HPA at its current size for ever.
            assert metric["pods"]["metric"]["name"] in served, f"{name}: no prometheus-adapter rule serves it"
        else:
            assert metric["resource"]["name"] == "cpu"


def test_monitors_select_the_gateway_service_and_the_triton_pods() -> None:
    docs = manifests("gpu")
    service_monitor, pod_monitor = find(docs, "ServiceMonitor", "rare-gateway"), find(docs, "PodMonitor", "rare-triton")
    service = find(docs, "Service", "rare-gateway")
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in service_monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    triton = find(docs, "Deployment", "rare-triton")
    pod_labels = triton["spec"]["template"]["metadata"]["labels"]
    assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    ports = {p["name"] for p in containers(triton)["triton"]["ports"]}
    assert {e["port"] for e in pod_monitor["spec"]["podMetricsEndpoints"]} <= ports
    # The job label comes from app.kubernetes.io/name, so the rules' up{job="rare-gateway"|"rare-triton"} match.
    assert service["metadata"]["labels"][service_monitor["spec"]["jobLabel"]] == "rare-gateway"
    assert pod_labels[pod_monitor["spec"]["jobLabel"]] == "rare-triton"


def test_prometheusrule_is_the_compose_rules_and_passes_promtool(tmp_path: Path) -> None:
    rule = find(manifests("gpu"), "PrometheusRule", "rare")
    assert rule["spec"]["groups"] == rule_groups(), "k8s/base/prometheusrule.yaml and monitoring rules differ"
    path = tmp_path / "prometheusrule-groups.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check("promtool", "check", "rules", str(path))


def test_the_dashboard_configmap_is_the_dashboard_file() -> None:
    configmap = find(manifests("gpu"), "ConfigMap", "rare-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"]["rare.json"] == DASHBOARD.read_text()


def test_prometheus_adapter_values_are_valid_yaml_for_the_chart() -> None:
    values = yaml.safe_load((REPO / "k8s" / "prometheus-adapter" / "values.yaml").read_text())
    assert values["rules"]["default"] is False
    for rule in values["rules"]["custom"]:
        assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        assert "<<.LabelMatchers>>" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateways_balance_requests_over_every_triton_pod(overlay: str) -> None:
    docs = manifests(overlay)
    headless = find(docs, "Service", "rare-triton-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == find(docs, "Deployment", "rare-triton")["spec"]["selector"]["matchLabels"]
    env = {e["name"]: e.get("value") for e in containers(find(docs, "Deployment", "rare-gateway"))["gateway"]["env"]}
    port = {p["name"]: p["port"] for p in headless["spec"]["ports"]}["grpc"]
    assert env["RARE_TRITON_URL"] == f"dns:///rare-triton-headless:{port}"


def test_gpu_engines_live_on_a_volume_that_outlives_the_pod() -> None:
    docs = manifests("gpu")
    triton = find(docs, "Deployment", "rare-triton")
    (builder,) = containers(triton, init=True).values()
    env = {e["name"]: e.get("value") for e in builder["env"]}
    mount = next(m for m in builder["volumeMounts"] if m["mountPath"] == env["ENGINE_CACHE_DIR"])
    volume = next(v for v in triton["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" not in volume
    claim = find(docs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # pods on several nodes share it, keyed by GPU
