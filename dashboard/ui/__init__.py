"""What the screens are made of.

component ids, strings per language, figures, static assets.
"""
