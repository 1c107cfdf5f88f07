"""Pure NumPy data code: generators, readers and validation."""
