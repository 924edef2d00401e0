"""`ReconcileWorkflow`: the nightly comparison of the read model with the case workflows."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.reports import ReconcileInput, ReconcileReport


@workflow.defn
class ReconcileWorkflow:
    """Runs the reconciliation activity and returns its report (visible in the Temporal UI)."""

    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileReport:
        """Reconcile once."""
        report: ReconcileReport = await workflow.execute_activity(
            "reconcile_read_model",
            inp.task_queue,
            result_type=ReconcileReport,
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        workflow.logger.info(
            "reconciled %d cases, repaired %d", report.checked, len(report.repaired)
        )
        return report
