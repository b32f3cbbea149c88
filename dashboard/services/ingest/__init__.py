"""Feeds in: readers for files, validation, and exactly-once storage with quarantine."""
