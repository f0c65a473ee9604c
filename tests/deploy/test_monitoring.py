"""monitoring/ and every YAML file of the deployment: yamllint, promtool, and the Grafana dashboard.

Whether each metric a query names is really exported is checked against a running gateway and Triton in
tests/integration/test_monitoring_metrics.py; here the queries are only parsed, and the name lexer is tested.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.deploy.promql import adapter_queries, dashboard_queries, metric_names, unresolved
from tests.deploy.tools import COMPOSE, COMPOSE_CPU, DASHBOARD, RULES_DIR, check

YAML_PATHS = [COMPOSE, COMPOSE_CPU, REPO / "k8s", REPO / "monitoring", Path(__file__).with_name("yamllint.yaml")]


def test_yamllint() -> None:
    config = str(Path(__file__).with_name("yamllint.yaml"))
    check("yamllint", "--strict", "-f", "parsable", "-c", config, *(str(p.relative_to(REPO)) for p in YAML_PATHS))


def test_prometheus_config_and_rules_pass_promtool() -> None:
    # `check config` also loads and checks the rule files the config names (rules/*.yml).
    output = check("promtool", "check", "config", "monitoring/prometheus/prometheus.yml")
    assert "1 rule files found" in output, output
    check("promtool", "check", "rules", *(str(p.relative_to(REPO)) for p in sorted(RULES_DIR.glob("*.yml"))))


def test_dashboard_and_adapter_queries_are_valid_promql(tmp_path: Path) -> None:
    # promtool parses PromQL offline only inside rule files: each query becomes a recording rule.
    queries = dashboard_queries() + adapter_queries()
    rules = [{"record": f"check:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries)]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}))
    check("promtool", "check", "rules", str(path))


def test_the_queue_time_recording_rule(tmp_path: Path) -> None:
    # 30 ms of queue time per 15 s scrape at one request per second: 2000 us per request; idle: 0, not NaN.
    labels = '{job="rare-triton", instance="triton:8002", model="rare"}'
    idle = '{job="rare-triton", instance="idle:8002", model="rare"}'
    recorded = "rare:triton_queue_us_per_request:rate1m"
    test = {
        "rule_files": [str(p) for p in sorted(RULES_DIR.glob("*.yml"))],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    {"series": f"nv_inference_queue_duration_us{labels}", "values": "0+30000x40"},
                    {"series": f"nv_inference_request_success{labels}", "values": "0+15x40"},
                    {"series": f"nv_inference_queue_duration_us{idle}", "values": "0x40"},
                    {"series": f"nv_inference_request_success{idle}", "values": "0x40"},
                ],
                "promql_expr_test": [
                    {
                        "expr": recorded,
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": f"{recorded}{labels}", "value": 2000},
                            {"labels": f"{recorded}{idle}", "value": 0},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "rules_test.yml"
    path.write_text(yaml.safe_dump(test))
    check("promtool", "test", "rules", str(path))


def test_dashboard_loads_and_has_the_panels_asked_for() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = variables.pop("datasource")
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    assert set(variables) == {"namespace", "job", "pod"}  # a shared cluster: scope every panel
    assert all(v["includeAll"] and v["allValue"] == ".*" and v["type"] == "query" for v in variables.values())
    text = "\n".join(expr for _, expr in dashboard_queries())
    text = text.replace('{namespace=~"$namespace", job=~"$job", pod=~"$pod"}', "")  # the scope of every panel
    text = text.replace('namespace=~"$namespace", job=~"$job", pod=~"$pod", ', "")
    wanted = {
        "request rate": "rate(rare_http_request_duration_seconds_count",
        "p50 per stage": "histogram_quantile(0.5, sum by (le, stage) (rate(rare_stage_duration_seconds_bucket",
        "p95 per stage": "histogram_quantile(0.95, sum by (le, stage) (rate(rare_stage_duration_seconds_bucket",
        "p99 per stage": "histogram_quantile(0.99, sum by (le, stage) (rate(rare_stage_duration_seconds_bucket",
        "errors by reason": "sum by (reason) (rate(rare_errors_total",
        "average batch size": "rate(nv_inference_count[5m])) / sum by (model) (rate(nv_inference_exec_count",
        "queue time": "rate(nv_inference_queue_duration_us",
        "GPU utilization": "nv_gpu_utilization",
        "GPU memory": "nv_gpu_memory_used_bytes",
    }
    missing = [what for what, fragment in wanted.items() if fragment not in text]
    assert not missing, f"dashboard lacks: {missing}"


def test_every_panel_query_is_scoped_by_namespace_job_and_pod() -> None:
    scope = 'namespace=~"$namespace", job=~"$job", pod=~"$pod"'
    for title, expr in dashboard_queries():
        selectors = re.findall(r"\b(?:rare|nv)_[a-z_]+(\{[^}]*\})?", expr)
        assert selectors and all(scope in s for s in selectors), f"{title}: {expr}"


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, stage) (rate(rare_stage_duration_seconds_bucket{stage=~"infer|x"}[5m])))'
        " / on (model) group_left clamp_min(rate(nv_inference_count[1m] offset 5m), 1e-3)"
        ' + sum without (instance) (rare:queue:rate1m) and up{job="a{b}"} > bool inf'
    )
    assert metric_names(expr) == {"rare_stage_duration_seconds_bucket", "nv_inference_count", "rare:queue:rate1m", "up"}


def test_an_unknown_metric_is_reported_and_recording_rules_resolve() -> None:
    exported = {"nv_inference_queue_duration_us", "nv_inference_request_success"}
    queries = [("panel", "max(rare:triton_queue_us_per_request:rate1m)"), ("typo", "avg(nv_gpu_utilisation)")]
    assert unresolved(queries, exported) == ["typo: nv_gpu_utilisation"]
    assert unresolved(queries[:1], {"nv_inference_queue_duration_us"}) == [
        "panel: rare:triton_queue_us_per_request:rate1m"
    ]
