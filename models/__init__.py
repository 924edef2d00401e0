"""Pure domain model: vocabulary, rule packs, deadline calculator, lifecycle. No I/O."""
