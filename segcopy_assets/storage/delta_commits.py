"""Retrying Delta writes that delta-rs refused because another writer committed first.

A refused commit wrote nothing, so the write can simply be redone against the new version."""

from deltalake.exceptions import CommitFailedError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential


def retry_refused_commits(attempts: int, max_wait_s: float):
    """Decorator: redo the write up to ``attempts`` times, with short random backoff."""
    return retry(
        retry=retry_if_exception_type(CommitFailedError),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.05, max=max_wait_s),
        reraise=True,
    )
