"""Temporal activities: side effects such as the read-model projection."""
