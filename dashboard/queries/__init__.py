"""Read models.

one module per page or surface, each returning plain view models (dataclasses, dicts, frames).
"""
