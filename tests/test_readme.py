"""The README's curl examples run as written, against a real gateway on the shipped model."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from tests.service.conftest import Gateway, start_gateway, stop_gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway({"RARE_ORT_THREADS": "1"}, tmp_path_factory.mktemp("readme") / "gateway.log", "/readyz")
    yield gw
    stop_gateway(gw)


def curl_examples() -> list[str]:
    """Every curl line of the README that posts crops, as written."""
    text = (REPO / "README.md").read_text()
    return [line.split("  #")[0].strip() for line in text.splitlines() if re.match(r"curl -F images=@examples/", line)]


def test_every_curl_example_runs_as_written(gateway: Gateway) -> None:
    examples = curl_examples()
    assert len(examples) >= 3
    answers = []
    for example in examples:
        command = ["bash", "-c", example.replace("localhost:8080", gateway.url.removeprefix("http://"))]
        answers.append(json.loads(subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True).stdout))
        assert all(r["error"] is None and r["text"] for r in answers[-1]["results"]), example
        assert len(answers[-1]["results"]) == shlex.split(example).count("-F") - ("lexicon=" in example)
    (with_lexicon,) = [a for e, a in zip(examples, answers, strict=True) if "lexicon=" in e]
    assert with_lexicon["results"][0]["lexicon_match"]["word"] == "scottish"
