"""The web layer: the only place Flask is imported."""
