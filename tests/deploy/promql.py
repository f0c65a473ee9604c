"""Every PromQL expression the deployment ships (dashboard, rules, prometheus-adapter), and the metric names in it.

`metric_names` is a small lexer, not a PromQL parser: it drops strings, label matchers, ranges and grouping
clauses, then keeps the identifiers that are not function calls or keywords. The expressions are also checked to
parse with promtool (tests/deploy/test_monitoring.py), so the lexer only ever sees valid PromQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.tools import ADAPTER_VALUES, DASHBOARD, load_yaml, rule_groups

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end", "atan2", "group_left", "group_right"}
STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w.$:])([A-Za-z_:][\w:]*)(\s*\()?")
# Grafana's interval variables stand for a duration; any valid one will do for parsing.
GRAFANA_DURATIONS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects, e.g. {"nv_inference_count"} for `rate(nv_inference_count[1m])`."""
    text = STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers: rare_errors_total{reason="overloaded"}
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries: [5m], [$__rate_interval]
    text = GROUPING.sub("", text)  # label lists: sum by (model, reason)
    names = set()
    for match in IDENTIFIER.finditer(text):
        name, call = match.groups()
        if call is None and name.lower() not in KEYWORDS:
            names.add(name)
    return names


def grafana_to_promql(expr: str) -> str:
    for variable, duration in GRAFANA_DURATIONS.items():
        expr = expr.replace(variable, duration)
    return expr


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the Grafana dashboard, Grafana variables replaced."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel.get("title", "?"), grafana_to_promql(target["expr"]))
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def adapter_rules() -> list[dict[str, Any]]:
    return load_yaml(ADAPTER_VALUES)["rules"]["custom"]


def adapter_queries() -> list[tuple[str, str]]:
    """(metric served, PromQL) of each prometheus-adapter rule: its series query, its metrics query rendered."""
    queries = []
    for rule in adapter_rules():
        served = rule["name"]["as"]
        series = metric_names(rule["seriesQuery"])
        assert len(series) == 1, f"adapter rule {served}: expected one series name, got {series}"
        rendered = (
            rule["metricsQuery"]
            .replace("<<.Series>>", next(iter(series)))
            .replace("<<.LabelMatchers>>", 'namespace="rare",pod="rare-triton-0"')
            .replace("<<.GroupBy>>", "pod")
        )
        assert "<<" not in rendered, f"adapter rule {served}: unknown template in {rule['metricsQuery']!r}"
        queries += [(f"adapter {served} seriesQuery", rule["seriesQuery"]), (f"adapter {served}", rendered)]
    return queries


def rule_queries() -> list[tuple[str, str]]:
    return [(rule.get("alert") or rule["record"], rule["expr"]) for group in rule_groups() for rule in group["rules"]]


def recorded() -> dict[str, str]:
    """Recording rules: their series count as exported when their own expressions resolve."""
    return {rule["record"]: rule["expr"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def all_queries() -> list[tuple[str, str]]:
    return dashboard_queries() + rule_queries() + adapter_queries()


def unresolved(queries: list[tuple[str, str]], exported: set[str]) -> list[str]:
    """'source: name' for each metric a query selects that is neither exported nor a resolvable recording rule."""
    rules = recorded()
    missing = []

    def resolves(name: str, seen: frozenset[str]) -> bool:
        if name in exported:
            return True
        if name not in rules or name in seen:
            return False
        return all(resolves(inner, seen | {name}) for inner in metric_names(rules[name]))

    for source, expr in queries:
        missing += [f"{source}: {name}" for name in sorted(metric_names(expr)) if not resolves(name, frozenset())]
    return missing
