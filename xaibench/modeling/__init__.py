"""The model layer: ``Classifier`` (the wrapper), the batched engine every model pass goes through,
shared computations, the last-layer shortcut, tokenization, thread settings and folder/hub loading.
Imports only ``xaibench.core`` (and ``xaibench.datasets`` never)."""
