"""The tables, by area. Importing this package registers all of them on `SQLModel.metadata`."""

from db.tables.access import AuditRecord, UiSessionRecord, UiTicketRecord, UserRecord
from db.tables.cases import (
    CaseEventRecord,
    CaseRecord,
    CaseTallyRecord,
    DeadlineRecord,
    ProjectionIntentRecord,
)
from db.tables.feeds import DeliveryRecord, FeedSecretRecord, WebhookRecord
from db.tables.protection import InterpreterRecord, ProtectionDetailRecord
from db.tables.reception_detention import DetentionOrderRecord, ReceptionCentreRecord
from db.tables.registry import (
    CaseReferenceRecord,
    DuplicateRecord,
    IdempotencyRecord,
    PersonRecord,
    ReferenceCounterRecord,
)
from db.tables.statistics import CaseStatCountRecord, CaseStatDaysRecord, CaseStatFactRecord

__all__ = [
    "AuditRecord",
    "CaseEventRecord",
    "CaseRecord",
    "CaseReferenceRecord",
    "CaseStatCountRecord",
    "CaseStatDaysRecord",
    "CaseStatFactRecord",
    "CaseTallyRecord",
    "DeadlineRecord",
    "DeliveryRecord",
    "DetentionOrderRecord",
    "DuplicateRecord",
    "FeedSecretRecord",
    "IdempotencyRecord",
    "InterpreterRecord",
    "PersonRecord",
    "ProjectionIntentRecord",
    "ProtectionDetailRecord",
    "ReceptionCentreRecord",
    "ReferenceCounterRecord",
    "UiSessionRecord",
    "UiTicketRecord",
    "UserRecord",
    "WebhookRecord",
]
