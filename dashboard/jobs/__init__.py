"""The scheduler, its job table and the one-process-runs-shared-jobs rule.."""
