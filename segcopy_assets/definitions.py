"""The segcopy code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here.

Each domain under ``defs/`` declares its own assets, checks and sensors; this module merges
them with the resources configured from the environment.
"""

import dagster as dg

from segcopy_assets.defs.cdp import definitions as cdp
from segcopy_assets.defs.channels import definitions as channels
from segcopy_assets.defs.content import definitions as content
from segcopy_assets.defs.generation import definitions as generation
from segcopy_assets.defs.jobs import refresh_jobs
from segcopy_assets.defs.maintenance import definitions as maintenance
from segcopy_assets.defs.publishing import definitions as publishing
from segcopy_assets.resources import resources_from_env

# Modules, not their Definitions: Dagster allows one Definitions object at module scope.
DOMAINS = tuple(
    module.defs for module in (cdp, content, generation, channels, publishing, maintenance)
)

#: Every asset (with external specs) and every asset check, in pipeline order.
ALL_ASSETS = [asset for domain in DOMAINS for asset in domain.assets or []]
ALL_CHECKS = [check for domain in DOMAINS for check in domain.asset_checks or []]
ALL_SENSORS = [sensor for domain in DOMAINS for sensor in domain.sensors or []]
#: the named jobs segcopy run's runs belong to (re-executable from the UI)
REFRESH_JOBS = refresh_jobs(ALL_ASSETS)

# In-process executor: a variants run has ten steps (the asset and nine checks) that each compute
# for well under a second; a process per step (the default) costs ~3 s of imports each.
defs = dg.Definitions.merge(
    *DOMAINS,
    dg.Definitions(
        resources=resources_from_env(),
        executor=dg.in_process_executor,
        jobs=REFRESH_JOBS,
    ),
)
