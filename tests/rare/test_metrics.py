import pytest

from rare.metrics import RecMetric, format_table, normalize_text


def test_protocol_lowercases_and_keeps_alphanumerics() -> None:
    assert normalize_text("Café-42!") == "caf42"
    metric = RecMetric()
    metric.update(["HELLO", "w0rld", "x"], ["hello!", "world", "xyz"])
    assert metric.count == 3 and metric.correct == 1 and metric.acc == pytest.approx(1 / 3)
    assert metric.norm_edit_dis == pytest.approx(1 - (0 + 1 / 5 + 2 / 3) / 3)


def test_table_has_an_overall_row() -> None:
    a, b = RecMetric(), RecMetric()
    a.update(["a"], ["a"])
    b.update(["a", "b"], ["b", "b"])
    table = format_table({"A": a, "B": b}, {"B": 4})
    assert "| A | 1 | 0 | 100.00 % |" in table and "| **overall** | 3 | 4 | 66.67 % |" in table
