"""The studies that run the pipeline many times (seed spread, check proof, β sweep, likelihood options, the
NLL estimate, diagnostics) and the CI check; each is `python -m studies.NAME --help`. What they share, the
check's rule, its calibration, UDR, the sweep's statistics and the DVC/git plumbing, is in studies.analysis."""
