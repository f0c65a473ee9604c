"""rare recognize: a folder through a real gateway into JSON Lines, a gateway that restarts mid-run, --resume."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rare.recognize import expand
from tests.conftest import REAL_VAL, REPO
from tests.service.conftest import start_gateway, stop_gateway

IMAGES = REAL_VAL / "IIIT5K"  # its 200 crops lie in train/


def recognize(url: str, out: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "rare", "recognize", "--url", url, "--out", str(out), *args]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_folder_survives_a_gateway_restart_and_matches_the_gateway(tmp_path: Path) -> None:
    env = {"RARE_ORT_THREADS": "1", "RARE_MAX_IMAGES": "4"}
    gateway = start_gateway(env, tmp_path / "gateway.log", "/readyz")
    out = tmp_path / "r.jsonl"
    run = recognize(gateway.url, out, str(IMAGES), "--concurrency", "1")
    try:
        deadline = time.monotonic() + 60
        while not (out.is_file() and 8 <= len(out.read_text().splitlines()) < 150) and time.monotonic() < deadline:
            time.sleep(0.02)
        stop_gateway(gateway)  # mid-run: the client retries until the gateway is back on the same port
        assert run.poll() is None and len(out.read_text().splitlines()) < 200, "the run ended before the restart"
        port = int(gateway.url.rsplit(":", 1)[1])
        gateway = start_gateway(env, tmp_path / "again.log", "/readyz", port=port)
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert "200/200 crops" in stderr and "crops/s" in stderr
        records = lines(out)
        assert len(records) == 200 and all(r["error"] is None for r in records)
        sample = [Path(r["path"]) for r in records[::50]]
        files = [("images", (p.name, p.read_bytes(), "image/png")) for p in sample]
        expected = httpx.post(gateway.url + "/recognize", files=files).json()["results"]
        assert [r["text"] for r in records[::50]] == [e["text"] for e in expected]
    finally:
        run.kill()
        stop_gateway(gateway)


def test_resume_skips_what_is_done_and_unreadable_files_are_lines(tmp_path: Path) -> None:
    gateway = start_gateway({"RARE_ORT_THREADS": "1"}, tmp_path / "gateway.log", "/readyz")
    try:
        listed = tmp_path / "list.txt"
        paths = sorted(IMAGES.rglob("*.png"))[:12]
        listed.write_text("\n".join(str(p) for p in paths) + "\nnot_there.png\n")
        (tmp_path / "broken.png").write_bytes(b"not a png")
        out = tmp_path / "r.jsonl"
        done = "".join(json.dumps({"path": str(p), "text": "kept", "error": None}) + "\n" for p in paths[:5])
        out.write_text(done + "[1, 2]\n" + '{"path": "' + str(paths[5]))  # another tool's line; a run killed mid-line
        run = recognize(gateway.url, out, str(listed), str(tmp_path / "broken.png"), "--resume")
        run.communicate(timeout=120)
        assert run.returncode == 1  # some images got error lines
        text = out.read_text().splitlines()
        assert text[5:7] == ["[1, 2]", '{"path": "' + str(paths[5])]  # left as they were, each on its own line
        records = [json.loads(line) for line in text[:5] + text[7:]]
        assert [r["text"] for r in records[:5]] == ["kept"] * 5 and len(records) == 14
        errors = {Path(r["path"]).name: r["error"] for r in records if r["error"]}
        assert errors == {"not_there.png": "unreadable_file", "broken.png": "undecodable_image"}
    finally:
        stop_gateway(gateway)


def test_expand_walks_folders_and_lists_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.png", "a/b/2.JPG", "a/notes.md"):
        (tmp_path / name).write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text("# crops\na/1.png\n\nmissing.png\n")
    found = expand([tmp_path / "a", listing])
    assert found == [tmp_path / "a" / "1.png", tmp_path / "a" / "b" / "2.JPG", tmp_path / "missing.png"]
