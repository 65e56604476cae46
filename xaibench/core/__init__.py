"""The bottom layer: records, units, registries, component base, errors, references, seeding and
atomic storage. Imports nothing else of xaibench."""
