"""Progress bar and CSV logs of a training run (rank 0 only).

``train_log.csv``: step, epoch, smoothed loss and train accuracy, learning rate, samples/s (all ranks), skipped
samples so far. ``eval_log.csv``: step, epoch, dataset, samples, accuracy, normalized edit distance.
"""

from __future__ import annotations

import csv
import time
from collections import Counter, deque
from pathlib import Path

from tqdm import tqdm

from rare.metrics import RecMetric


class TrainLogger:
    def __init__(self, out_dir: Path, enabled: bool, window: int = 20, every: int = 10) -> None:
        self.enabled, self.every = enabled, every
        self.losses: deque[float] = deque(maxlen=window)
        self.accs: deque[float] = deque(maxlen=window)
        self.skipped: Counter = Counter()
        self.bar: tqdm | None = None
        self.samples, self.t0 = 0, time.monotonic()
        if enabled:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.train_csv = self._open(
                out_dir / "train_log.csv",
                ["step", "epoch", "loss", "train_acc", "lr", "samples_per_s", "skipped", "elapsed_s"],
            )
            self.eval_csv = self._open(
                out_dir / "eval_log.csv", ["step", "epoch", "dataset", "samples", "acc", "norm_edit_dis"]
            )

    @staticmethod
    def _open(path: Path, header: list[str]) -> tuple:
        new = not path.exists()
        handle = path.open("a", newline="", encoding="utf-8")
        writer = csv.writer(handle)
        if new:
            writer.writerow(header)
        return handle, writer

    def start(self, total: int, step: int) -> None:
        if self.enabled:
            self.bar = tqdm(total=total, initial=step, desc="train", dynamic_ncols=True, mininterval=2.0)
        self.samples, self.t0 = 0, time.monotonic()

    def step(
        self, step: int, epoch: int, loss: float, acc: float | None, lr: float, samples: int, skipped: dict[str, int]
    ) -> None:
        if not self.enabled:
            return
        self.losses.append(loss)
        if acc is not None:
            self.accs.append(acc)
        self.skipped.update(skipped)
        self.samples += samples
        rate = self.samples / max(1e-6, time.monotonic() - self.t0)
        mean_loss = sum(self.losses) / len(self.losses)
        mean_acc = sum(self.accs) / len(self.accs) if self.accs else float("nan")
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                loss=f"{mean_loss:.3f}", acc=f"{mean_acc:.3f}", lr=f"{lr:.2e}", img_s=f"{rate:.0f}", refresh=False
            )
        if step % self.every == 0:
            handle, writer = self.train_csv
            writer.writerow(
                [
                    step,
                    epoch,
                    f"{mean_loss:.5f}",
                    f"{mean_acc:.4f}",
                    f"{lr:.3e}",
                    f"{rate:.1f}",
                    sum(self.skipped.values()),
                    f"{time.monotonic() - self.t0:.0f}",
                ]
            )
            handle.flush()

    def eval(self, step: int, epoch: int, metrics: dict[str, RecMetric], total: RecMetric) -> None:
        if not self.enabled:
            return
        handle, writer = self.eval_csv
        for name, metric in {**metrics, "overall": total}.items():
            writer.writerow([step, epoch, name, metric.count, f"{metric.acc:.4f}", f"{metric.norm_edit_dis:.4f}"])
        handle.flush()

    def close(self) -> None:
        if self.enabled:
            if self.bar is not None:
                self.bar.close()
            for handle, _ in (self.train_csv, self.eval_csv):
                handle.close()
