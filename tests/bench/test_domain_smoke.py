"""The domain-work benchmark still runs at a tiny size (no timing assertions)."""

from __future__ import annotations

from bench import domain
from models.lifecycle import settle


def test_domain_bench_prints_every_size() -> None:
    lines: list[str] = []
    assert domain.main(["--sizes", "1,5,12", "--repeat", "2"], out=lines.append) == 0
    assert lines[0] == "domain work per record_contact, median of 2 runs (ms)"
    assert lines[1].split() == [
        "events",
        "total",
        "ms",
        "record",
        "x2",
        "settle",
        "view",
        "rest",
    ]
    rows = [line.split() for line in lines[2:]]
    assert [int(r[0]) for r in rows] == [1, 5, 12]
    for _, total, *steps in rows:
        assert len(steps) == len(domain.STEPS)
        assert all(float(s) >= 0 for s in steps)
        assert float(total) > 0


def test_cases_have_the_history_asked_for() -> None:
    for events in (1, 2, 3, 4, 30):
        state = domain.case_with(events)
        assert len(state.history) == events
        assert settle(state, domain.NOW, recorded_at=domain.NOW).events == []
