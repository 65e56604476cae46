"""Everything a run writes: summary tables, statistics, the compare gate, figures, HTML and LaTeX
reports, provenance and the CPU-vs-GPU table. Reads run data; never runs a model itself except to
draw single-explanation pictures."""
