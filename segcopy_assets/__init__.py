"""segcopy: segment-personalized marketing copy as Dagster assets."""

import warnings

# Backfill policies, data versions and partitioned checks are beta/preview in dagster 1.13;
# segcopy relies on them knowingly, so their warnings are noise for its users.
try:
    import dagster as _dg

    warnings.filterwarnings("ignore", category=_dg.BetaWarning)
    warnings.filterwarnings("ignore", category=_dg.PreviewWarning)
except ImportError:  # pragma: no cover - dagster is a hard dependency
    pass
