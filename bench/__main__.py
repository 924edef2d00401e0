"""`make bench`: every benchmark, each in a fresh process, into one table and `bench/results.json`.

    .venv/bin/python -m bench [--quick | --scale] [--out PATH] [--no-bytecode-cache]

Runs `bench.engine` four times, against a fresh local dev server in memory and then against one
that persists to a temp SQLite file, each with the API in process and as a process of its own,
then `bench.bulk_import` (`asylumflow import` against a raw update-with-start carrying the same
acts), `bench.storm` (a timer storm of 200 cases against 200 no-op timers), `bench.front_door`
(the API served asyncio + h11, uvloop + httptools and with orjson), `bench.floor_parts` (the
floor's cost above the no-op, part by part), `bench.simulator`
(`asylumflow simulate` against no-op workflows driven with the same calls), and then
`bench.supervision` (read-model queries at 1k, 10k and 100k cases on SQLite, and on PostgreSQL
when `ASYLUMFLOW_BENCH_PG_URL` names an empty database). `--scale` (`make bench-scale`) runs only
the long one, `bench.caseload`: an existing caseload imported (40,000 cases on the in-memory
server, extrapolated to 100,000), supervised, and a timer storm of 10,000 cases on it.
Each runs in a process of its own, so one's memory and caches never flatter or burden another's
figures (the engine bench measures this process's RSS). `--quick` uses tiny sizes (about a
minute in all); the full run takes several minutes on two cores. `bench/RESULTS.md` says what
the figures mean.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
MODES: tuple[tuple[str, list[str]], ...] = (
    ("in memory", []),
    ("in memory, API as a process", ["--api-process"]),
    ("sqlite file", ["--db-file"]),
    ("sqlite file, API as a process", ["--db-file", "--api-process"]),
)
"""Each server mode twice: the API in the benchmark's process (over ASGI, one GIL with the
worker) and as `asylumflow api` in a process of its own, as `make run` deploys it."""


def _first(path: str, prefix: str) -> str:
    """The rest of the first line of a /proc file that starts with `prefix` ('' if none)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine() -> dict[str, Any]:
    """What the figures were measured on (the absolute numbers mean little without it)."""
    mem_kib = _first("/proc/meminfo", "MemTotal").split()
    try:
        cli = subprocess.run(
            [str(BIN / "temporal"), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        cli = "missing"
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_gib": round(int(mem_kib[0]) / 2**20, 1) if mem_kib else None,
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor(),
        "python": platform.python_version(),
        "temporalio": metadata.version("temporalio"),
        "temporal_cli": cli,
        "platform": platform.platform(),
        "loadavg_1min_at_start": os.getloadavg()[0],
    }


def _child_env(bytecode_cache: str | None) -> dict[str, str]:
    """The environment of each benchmark process.

    With PYTHONDONTWRITEBYTECODE set and no bytecode on disk, the workflow sandbox compiles
    workflows/case.py from source for every new workflow run, which a normal deployment never
    does. Unless asked not to, the children get a private bytecode cache outside the repository
    (see RESULTS.md for both measurements).
    """
    env = dict(os.environ)
    if bytecode_cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode_cache
    return env


def run_engine(quick: bool, env: dict[str, str], work: Path) -> list[dict[str, Any]]:
    """`bench.engine` once per server mode; its progress goes to stderr as it happens."""
    results: list[dict[str, Any]] = []
    for name, flags in MODES:
        out = work / f"engine-{len(results)}.json"
        cmd = [sys.executable, "-m", "bench.engine", "--sizes", "quick" if quick else "full"]
        print(f"== engine, dev server {name}", flush=True)
        # stdout (the table) is printed at the end, with the rest.
        subprocess.run(
            [*cmd, *flags, "--json-out", str(out)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results.append(json.loads(out.read_text()))
    return results


def run_bulk_import(quick: bool, env: dict[str, str], work: Path) -> dict[str, Any]:
    """`bench.bulk_import` once: the import path against the raw update-with-start of its acts."""
    out = work / "bulk-import.json"
    print("== bulk import, dev server in memory", flush=True)
    sizes = "quick" if quick else "full"
    subprocess.run(
        [sys.executable, "-m", "bench.bulk_import", "--sizes", sizes, "--json-out", str(out)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_script(module: str, title: str, sizes: str, env: dict[str, str], work: Path) -> Any:
    """`python -m bench.<module> --sizes <sizes>` in a process of its own; its JSON figures."""
    out = work / f"{module}-{sizes}.json"
    print(f"== {title}", flush=True)
    subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--sizes", sizes, "--json-out", str(out)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def run_supervision(quick: bool, env: dict[str, str]) -> list[dict[str, Any]]:
    """`bench.supervision`: 1k, 10k and 100k cases on SQLite, and on PostgreSQL if given.

    PostgreSQL is measured when `ASYLUMFLOW_BENCH_PG_URL` names an empty database (for example
    the throwaway cluster of `.ci/postgres.sh start`). `--quick` uses 500 cases.
    """
    args = ["--sizes", "500", "--repeat", "3"] if quick else ["--sizes", "1000,10000,100000"]
    targets: list[tuple[str, list[str]]] = [("sqlite", [])]
    if env.get("ASYLUMFLOW_BENCH_PG_URL"):
        targets.append(("postgresql", ["--database-url", env["ASYLUMFLOW_BENCH_PG_URL"]]))
    results = []
    for name, extra in targets:
        print(f"== supervision, {name}", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "bench.supervision", *args, *extra],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        results.append({"database": name, "args": args, "output": done.stdout.splitlines()})
    return results


def _summary(engine: list[dict[str, Any]]) -> list[str]:
    """One line per target and server mode: ratio against target."""
    lines = ["targets (ratio = asylumflow / noop, same server, same run):"]
    for r in engine:
        parts = [f"create c={c['concurrency']} {c['ratio']:.2f}" for c in r["creation"]]
        a = r["actions"]
        parts.append(f"action p50 {a['ratio_p50']:.2f}")
        life = r["lifecycles"]
        parts.append(f"events {life['integration']['events']}/{life['return']['events']}")
        lines.append(f"  {r['server']:<12} " + ", ".join(parts))
    lines.append("  targets:     create >= 0.7 at each concurrency, action p50 <= 1.5, events <500")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the tables, write the JSON."""
    from bench.bulk_import import format_result
    from bench.engine_table import format_table
    from bench.floor_parts import format_result as parts_table
    from bench.front_door import format_result as door_table
    from bench.rig import show_ratio
    from bench.simulator import format_result as simulator_table
    from bench.storm import format_result as storm_table

    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (about a minute)")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="`make bench-scale`: only the long run (bench.caseload: import, supervision, storm)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="JSON output")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE as it is (measures recompiling the workflow module)",
    )
    args = parser.parse_args(argv)
    if args.scale:
        return scale(args.out.with_name("results-scale.json"), args.no_bytecode_cache)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="asylumflow-bench-") as tmp:
        work = Path(tmp)
        cache = None if args.no_bytecode_cache else str(work / "pycache")
        env = _child_env(cache)
        info["bytecode"] = (
            "private cache"
            if cache
            else ("not written" if env.get("PYTHONDONTWRITEBYTECODE") else "default")
        )
        engine = run_engine(args.quick, env, work)
        bulk = run_bulk_import(args.quick, env, work)
        sizes = "quick" if args.quick else "full"
        storm = run_script("storm", "timer storm, dev server in memory", sizes, env, work)
        door = run_script("front_door", "front door, API served three ways", sizes, env, work)
        parts = run_script("floor_parts", "the floor, part by part", sizes, env, work)
        simulator = run_script("simulator", "simulator, time-skipping server", sizes, env, work)
        supervision = run_supervision(args.quick, env)
    info["loadavg_1min_at_end"] = os.getloadavg()[0]
    print()
    print(
        f"asylumflow benchmarks ({'quick' if args.quick else 'full'}): {info['nproc']} CPUs, "
        f"{info['mem_total_gib']} GiB, {info['cpu_model']}; Python {info['python']}, "
        f"temporalio {info['temporalio']}; bytecode: {info['bytecode']}"
    )
    for result in engine:
        print()
        print(format_table(result))
    print()
    print(format_result(bulk))
    print()
    print(storm_table(storm))
    print()
    print(door_table(door))
    print()
    print(parts_table(parts))
    print()
    print(simulator_table(simulator))
    for part in supervision:
        print()
        print("\n".join(part["output"]))
    print()
    print("\n".join(_summary(engine)))
    print(
        f"  bulk import: import / raw update-with-start {show_ratio(bulk['ratio'])} "
        f"(target >= {bulk['target']:.1f})"
    )
    args.out.write_text(
        json.dumps(
            {
                "quick": args.quick,
                "machine": info,
                "engine": engine,
                "bulk_import": bulk,
                "storm": storm,
                "front_door": door,
                "floor_parts": parts,
                "simulator": simulator,
                "supervision": supervision,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {args.out}")
    return 0


def scale(out: Path, no_bytecode_cache: bool) -> int:
    """`make bench-scale`: `bench.caseload` at scale (about 45 minutes on 2 cores).

    The import of a caseload (40,000 cases, extrapolated to 100,000), the supervision queries on
    it, a timer storm of 10,000 cases on the same server and the SQLite-file server's rate.
    """
    from bench.caseload import format_result as caseload_table

    info = machine()
    with tempfile.TemporaryDirectory(prefix="asylumflow-bench-") as tmp:
        work = Path(tmp)
        env = _child_env(None if no_bytecode_cache else str(work / "pycache"))
        caseload = run_script(
            "caseload", "caseload: import, supervision, timer storm of 10,000", "scale", env, work
        )
    info["loadavg_1min_at_end"] = os.getloadavg()[0]
    print()
    print(caseload_table(caseload))
    out.write_text(json.dumps({"machine": info, "caseload": caseload}, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
