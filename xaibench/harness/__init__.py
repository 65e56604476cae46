"""The benchmark harness: run configuration and profiles, option validation, the result cache, the
session that runs the matrix, the pytest plugin and the scaling measurement."""
