"""Message catalogues of the drift report, one module per language."""
