"""PNG plots with matplotlib (Agg: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen before pyplot is imported

Series = dict[str, tuple[Sequence[float], Sequence[float]]]  # label -> (xs, ys)


def series_by(rows: Sequence[dict[str, Any]], group: str, x: str, y: str) -> Series:
    """One line per distinct ``row[group]`` (in order of appearance), points (row[x], row[y])."""
    names = dict.fromkeys(r[group] for r in rows)
    return {str(n): ([r[x] for r in rows if r[group] == n], [r[y] for r in rows if r[group] == n]) for n in names}


def save_panels(
    path: Path,
    title: str,
    xlabel: str,
    panels: Sequence[tuple[str, Series]],
    log2_x: bool = True,
    log_y: Sequence[bool] = (),
) -> Path:
    """One row of line plots sharing the x axis; each panel is (y label, series).

    Series whose labels end alike after the first ", " share a color (e.g. ``gateway, 8/req`` and ``bare, 8/req``).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for index, (ax, (ylabel, series)) in enumerate(zip(axes[0], panels, strict=True)):
        groups = list(dict.fromkeys(label.split(", ", 1)[-1] for label in series))
        for label, (xs, ys) in series.items():
            # "gateway, 8/req" and "bare, 8/req" share a color; the bare backend is dashed
            color = f"C{groups.index(label.split(', ', 1)[-1]) % 10}"
            style = "--" if label.startswith("bare") else "-"
            ax.plot(list(xs), list(ys), marker="o", linestyle=style, color=color, label=label)
        if log2_x:
            ax.set_xscale("log", base=2)
        if index < len(log_y) and log_y[index]:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if series:
            ax.legend(fontsize="small")
    fig.suptitle(title)
    return _save(fig, path)


def save_scatter(path: Path, title: str, xlabel: str, ylabel: str, points: dict[str, tuple[float, float]]) -> Path:
    """One labelled point per entry (e.g. speed vs accuracy of model variants)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for label, (x, y) in points.items():
        ax.scatter([x], [y], s=40)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)


def save_bars(path: Path, title: str, xlabel: str, bars: dict[str, float]) -> Path:
    """Horizontal bars, largest first (e.g. the share of time per operator type)."""
    labels = list(bars)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(labels) + 1.5))
    ax.barh(labels, [bars[label] for label in labels])
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)


def save_curves(path: Path, panels: Sequence[tuple[str, str, str, Series]]) -> Path:
    """Side by side line plots on linear axes, each (title, x label, y label, series); "ideal" is drawn dashed."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (title, xlabel, ylabel, series) in zip(axes[0], panels, strict=True):
        for label, (xs, ys) in series.items():
            ideal = label == "ideal"
            ax.plot(list(xs), list(ys), marker=None if ideal else "o", linestyle="--" if ideal else "-", label=label)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
