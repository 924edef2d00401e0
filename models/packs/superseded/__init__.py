"""Superseded rule pack contents (`<id>@<first 12 hex of digest>.yaml`), kept for pinned cases."""
