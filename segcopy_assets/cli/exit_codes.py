"""What ``segcopy`` commands return, so a scheduler can tell the outcomes apart (README,
"What a run returns")."""

#: Everything asked for was done (also: nothing needed doing).
OK = 0
#: Nothing ran, or the run stopped: bad input, an unreachable endpoint, a failed run. The message
#: says why; a failed run writes nothing it had not finished (every table as it was or complete).
FAILED = 1
#: The command line itself was wrong (argparse).
USAGE = 2
#: The run finished and published what it could, but some pairs have no variant for their
#: current inputs (their generation failed: retried by the next run, or parked).
PARTIAL = 3
