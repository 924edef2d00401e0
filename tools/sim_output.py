"""What the simulator writes: weekly.csv, cases.csv and four PNG charts (`tools.simulate`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import csv_safety
from models.enums import Stage
from models.stages import OPEN_STAGES, TERMINAL_STAGES

if TYPE_CHECKING:
    from tools.simulate import Simulation

OPEN = [s.value for s in Stage if s in OPEN_STAGES]
"""Open stages in the order of `Stage` (the columns of weekly.csv)."""
TERMINAL = sorted(s.value for s in TERMINAL_STAGES)
"""Closed and withdrawn, in the order weekly.csv has always had them."""


def write_outputs(sim: Simulation, out: Path) -> list[Path]:
    """Write weekly.csv, cases.csv and the four charts into `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    weekly = out / "weekly.csv"
    with weekly.open("w", newline="") as fh:
        writer = csv_safety.dict_writer(fh, list(sim.weekly[0]))
        writer.writeheader()
        writer.writerows(sim.weekly)
    cases = out / "cases.csv"
    with cases.open("w", newline="") as fh:
        rows = csv_safety.writer(fh)
        rows.writerow(
            [
                "id",
                "arrived",
                "lodged",
                "decided",
                "outcome",
                "processing_days",
                "appealed",
                "absconded",
                "stage",
                "final",
                "flags",
            ]
        )
        for c in sim.cases.values():
            rows.writerow(
                [
                    c.id,
                    c.arrived.isoformat(),
                    c.lodged.isoformat() if c.lodged else "",
                    c.decided.isoformat() if c.decided else "",
                    c.view.get("outcome") or "",
                    (c.decided - c.lodged).days if c.decided and c.lodged else "",
                    c.appealed.isoformat() if c.appealed else "",
                    c.absconded.isoformat() if c.absconded else "",
                    c.stage,
                    c.view.get("final", False),
                    " ".join(c.view.get("flags", [])),
                ]
            )
    return [weekly, cases, *_charts(sim, out)]


def _charts(sim: Simulation, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    weeks = [r["week"] for r in sim.weekly]
    title = (
        f"{sim.pack.id}: {sim.config.arrivals_per_week}/week, {sim.config.caseworkers} "
        f"caseworkers x {sim.config.decisions_per_caseworker_week}/week"
    )
    paths = []

    stages = [s for s in [*OPEN, *TERMINAL] if any(r[f"stage_{s}"] for r in sim.weekly)]
    fig, ax = plt.subplots(figsize=(10, 5.5))
    ax.stackplot(weeks, *[[r[f"stage_{s}"] for r in sim.weekly] for s in stages], labels=stages)
    ax.set(title=f"Cases by stage — {title}", xlabel="week", ylabel="cases")
    ax.legend(loc="upper left", fontsize="small")
    paths.append(_save(fig, out / "backlog_by_stage.png"))

    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(weeks, [r["overdue_decisions"] for r in sim.weekly], label="decision overdue")
    ax.plot(weeks, [r["overdue"] for r in sim.weekly], label="any authority deadline overdue")
    ax.set(title=f"Overdue — {title}", xlabel="week", ylabel="cases")
    ax.legend()
    paths.append(_save(fig, out / "overdue.png"))

    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(weeks, [r["entitlements_reached"] for r in sim.weekly], label="labour market reached")
    ax.plot(weeks, [r["entitled_blocked"] for r in sim.weekly], label="entitled but blocked")
    ax.set(title=f"Labour-market access — {title}", xlabel="week", ylabel="cases")
    ax.legend()
    paths.append(_save(fig, out / "entitlements.png"))

    days = [(c.decided - c.lodged).days for c in sim.cases.values() if c.decided and c.lodged]
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.hist(days or [0], bins=30)
    ax.set(
        title=f"Processing time, lodging to decision ({len(days)} decisions) — {title}",
        xlabel="days",
        ylabel="decisions",
    )
    paths.append(_save(fig, out / "processing_times.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
