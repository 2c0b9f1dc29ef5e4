import dagster as dg

from segcopy_assets.defs.maintenance.jobs import table_maintenance, table_maintenance_schedule

defs = dg.Definitions(jobs=[table_maintenance], schedules=[table_maintenance_schedule])
