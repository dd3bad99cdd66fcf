"""The analysis the studies share: the check's rule (reproducibility), its calibration, UDR, the
sweep's statistics and figure, and running DVC experiments (experiments)."""
