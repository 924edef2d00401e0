"""Configuration, the Temporal connection, the payload codec and logging: used by every process."""
