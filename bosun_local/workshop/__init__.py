"""The enablement workshop: scaffold a workshop folder, run its flow end to end, clean up after it."""
