"""State changes and long work.

workflow steps, ingest, exports, push, administration, demo data.
"""
