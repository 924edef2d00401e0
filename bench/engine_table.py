"""The engine benchmark's results as a fixed-width table, one per server mode."""

from __future__ import annotations

from typing import Any

from bench.rig import ratio_of, show_ratio


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(measurement, asylumflow, baseline, ratio, target, verdict) rows of one server's run."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    for c in result["creation"]:
        rows.append(
            (
                f"create c={c['concurrency']:<2} cases/s  API POST /cases",
                f"{c['api_per_s']:.1f}",
                f"{c['noop_update_with_start_per_s']:.1f}",
                show_ratio(c["ratio"]),
                f">= {c['target']:.1f}",
                _verdict(c["ratio"] >= c["target"]),
            )
        )
        rows.append(
            (
                "  raw update-with-start CaseWorkflow",
                f"{c['case_update_with_start_per_s']:.1f}",
                "",
                show_ratio(c["case_ratio"]),
                "",
                "",
            )
        )
        rows.append(
            ("  raw start_workflow (noop)", "", f"{c['noop_start_workflow_per_s']:.1f}", "", "", "")
        )
    a = result["actions"]
    for q in ("p50", "p95", "p99"):
        target = f"<= {a['target']:.1f}" if q == "p50" else ""
        verdict = _verdict(a["ratio_p50"] <= a["target"]) if q == "p50" else ""
        rows.append(
            (
                f"action {q} ms  API record_contact",
                f"{a['api'][q]:.1f}",
                f"{a['noop_update'][q]:.1f}",
                show_ratio(a[f"ratio_{q}"]),
                target,
                verdict,
            )
        )
    rows.append(
        (
            "  API p50 ms, first / last quarter",
            f"{a['api_p50_first_quarter_ms']:.1f} / {a['api_p50_last_quarter_ms']:.1f}",
            "",
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "  API floor p50 ms: auth + audit + no-op Update",
            f"{a['api_floor']['p50']:.1f}",
            "",
            show_ratio(a["ratio_floor_p50"]),
            "",
            "",
        )
    )
    rows.append(
        (
            "  raw act Update p50 ms",
            f"{a['case_update']['p50']:.1f}",
            "",
            show_ratio(ratio_of(a["case_update"]["p50"], a["noop_update"]["p50"])),
            "",
            "",
        )
    )
    life = result["lifecycles"]
    for name in ("integration", "return"):
        x = life[name]
        rows.append(
            (
                f"events, lifecycle -> {name} ({x['api_calls']} calls)",
                f"{x['events']} ({x['runs']} run{'s' if x['runs'] > 1 else ''})",
                f"{x['noop_events']}",
                show_ratio(x["ratio"]),
                f"< {life['target']}",
                _verdict(x["events"] < life["target"]),
            )
        )
    m = result["memory"]
    rows.append(
        (
            f"worker RSS MiB / 1,000 cached (n={m['cached']})",
            f"{m['case_mib_per_1000']:.1f}",
            f"{m['noop_mib_per_1000']:.1f}",
            show_ratio(m["ratio"]),
            "",
            "",
        )
    )
    r = life["replay"]
    rows.append(
        (
            f"replay ms, integration history ({r['events']} events)",
            f"{r['case_ms']:.1f}",
            f"{r['noop_ms']:.1f}",
            show_ratio(r["ratio"]),
            "",
            "",
        )
    )
    return rows


def format_table(result: dict[str, Any]) -> str:
    """One server's results as a fixed-width table (baseline = the no-op workflow)."""
    header = ("measurement", "asylumflow", "noop", "ratio", "target", "")
    rows = [header, *table_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    load = result["loadavg_1min"]
    lines = [
        f"server: {result['server']} (ratio = asylumflow / noop baseline; "
        f"{result['seconds']:.0f} s; load average {load[0]:.1f} -> {load[1]:.1f})"
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 6)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
