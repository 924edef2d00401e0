#!/usr/bin/env bash
# `make bench-scale`, the read model at 1,000,000 cases (issue 18): `bench.supervision` on a
# throwaway PostgreSQL of its own (.ci/postgres.sh, as .ci/run starts one), stopped on exit.
# About 15-25 minutes on two shared cores, most of it seeding. READ_MODEL_CASES overrides the
# caseload; the figures go to bench/results-read-model.json (ignored by git) and bench/RESULTS.md
# says what they mean.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${READ_MODEL_CASES:-1000000}
PG_STATE_FILE=$(mktemp -u /tmp/asylumflow-bench-pg.XXXXXX)
export PG_STATE_FILE
eval "$(.ci/postgres.sh start)"
trap '.ci/postgres.sh stop' EXIT
# The cluster is new and empty: its default database is the benchmark's.
.venv/bin/python -m bench.supervision --cases "$cases" --repeat 30 --budget 20 \
  --database-url "$ASYLUMFLOW_TEST_PG_URL" --json-out bench/results-read-model.json
