"""Rule pack data files (one YAML file per pack version)."""
