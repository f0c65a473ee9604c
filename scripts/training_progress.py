"""The shipped model's training progress: the table and the plot of its model card, from ``progress.csv``.

    python scripts/training_progress.py models/rare_mv3_en           # writes training_progress.png, prints the table
    python scripts/training_progress.py models/rare_mv3_en --add output/rare_mv3_en_s4 --stage 4

``--add`` appends a run's evaluations (its ``eval_log.csv``, and ``train_log.csv`` for the training time, summed
over the segments of a resumed run) as one more stage, counting samples and minutes on from the last row. One row per
real_val evaluation: stage, step within the stage, samples seen in all (128 per step: 64 per process x 2), minutes of
training in all, and word accuracy.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIELDS = ["stage", "step", "samples", "minutes", "overall", "IC15", "IIIT5K", "SVT"]
SAMPLES_PER_STEP = 128


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _elapsed_by_step(train_log: list[dict[str, str]]) -> dict[int, float]:
    """Seconds of training at each logged step; a resumed run restarts its clock, so later segments are offset."""
    elapsed: dict[int, float] = {}
    offset = last = 0.0
    for r in train_log:
        seconds = float(r["elapsed_s"])
        if seconds < last:  # the clock restarted: this segment resumed from a checkpoint
            offset = elapsed[max(elapsed)]
        last = seconds
        elapsed[int(r["step"])] = offset + seconds
    return elapsed


def add_run(rows: list[dict[str, str]], run: Path, stage: str) -> list[dict[str, str]]:
    """The run's evaluations as rows continuing ``rows`` (minutes from its train log's elapsed time)."""
    samples0 = int(rows[-1]["samples"]) if rows else 0
    minutes0 = float(rows[-1]["minutes"]) if rows else 0.0
    elapsed = _elapsed_by_step(read(run / "train_log.csv"))
    by_step: dict[int, dict[str, str]] = {}
    for r in read(run / "eval_log.csv"):
        step = int(r["step"])
        row = by_step.setdefault(step, {"stage": stage, "step": str(step)})
        row["overall" if r["dataset"] == "overall" else r["dataset"]] = f"{100 * float(r['acc']):.1f}"
    for step, row in sorted(by_step.items()):
        seconds = elapsed.get(step) or elapsed[max(s for s in elapsed if s <= step)]
        row["samples"] = str(samples0 + step * SAMPLES_PER_STEP)
        row["minutes"] = f"{minutes0 + seconds / 60:.1f}"
    return [*rows, *sorted(by_step.values(), key=lambda r: int(r["step"]))]


def table(rows: list[dict[str, str]]) -> str:
    lines = ["| stage | step | samples seen | training minutes | real_val | IC15 | IIIT5K | SVT |", "|" + "---:|" * 8]
    for r in rows:
        lines.append(
            f"| {r['stage']} | {int(r['step']):,} | {int(r['samples']):,} | {float(r['minutes']):.0f} | "
            f"{r['overall']} % | {r['IC15']} % | {r['IIIT5K']} % | {r['SVT']} % |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, str]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    samples = [int(r["samples"]) / 1e6 for r in rows]
    for key in ("overall", "IC15", "IIIT5K"):
        ax.plot(samples, [float(r[key]) for r in rows], marker="o", markersize=3, label=key)
    for stage in sorted({r["stage"] for r in rows})[1:]:
        start = min(int(r["samples"]) - int(r["step"]) * SAMPLES_PER_STEP for r in rows if r["stage"] == stage)
        ax.axvline(start / 1e6, color="grey", linewidth=0.6, linestyle=":")
    ax.set(xlabel="training samples seen (millions)", ylabel="word accuracy on real_val (%)", ylim=(0, 100))
    ax.set_title("rare_mv3_en: accuracy while training (dotted: a new stage)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--add", type=Path, help="a training output folder (eval_log.csv, train_log.csv)")
    parser.add_argument("--stage", default="", help="the stage name of --add's rows")
    args = parser.parse_args()
    path = args.model_dir / "progress.csv"
    rows = read(path) if path.is_file() else []
    if args.add:
        rows = add_run(rows, args.add, args.stage)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    plot(rows, args.model_dir / "training_progress.png")
    print(table(rows))


if __name__ == "__main__":
    main()
