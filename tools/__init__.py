"""Operator tools: the asylumflow CLI, the demo seeder, the simulator, the launcher, schedules."""
