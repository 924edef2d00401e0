"""Temporal workflows: one module per workflow class, no ORM or web imports."""
