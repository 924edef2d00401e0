"""Temporal activities only, thin: each calls the database layer or a sender."""
