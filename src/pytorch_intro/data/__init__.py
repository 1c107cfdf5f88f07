"""Pure NumPy data code: generators, validation and feature transforms."""
