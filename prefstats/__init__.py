"""Pure-numpy statistics for preference annotation."""
