"""Applications built on kiroku's public API only: ``chat`` is the reference system."""
