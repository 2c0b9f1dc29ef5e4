"""segcopy: segment-personalized marketing copy as Dagster assets."""

import warnings

# Backfill policies, data versions and partitioned checks are beta/preview in dagster 1.13;
# segcopy relies on them knowingly, so their warnings are noise for its users.
# (the classes from dagster_shared, which dagster re-exports: importing dagster itself costs
# half a second, which every CLI command that never needs it would pay)
try:
    from dagster_shared.utils.warnings import BetaWarning, PreviewWarning

    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
except ImportError:  # pragma: no cover - dagster is a hard dependency
    pass
