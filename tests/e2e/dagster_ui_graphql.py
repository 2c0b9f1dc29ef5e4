"""The GraphQL documents the Dagster UI sends, as the UI tests send them (``test_dagster_ui.py``)."""

OVERVIEW = """
query Overview {
  assetNodes {
    assetKey { path }
    jobNames
    isPartitioned
    partitionDefinition { name type }
    partitionKeys
    repository { name location { name } }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name jobNames blocking } }
    }
  }
}
"""

SENSORS_QUERY = """
query Sensors($repositorySelector: RepositorySelector!, $ticks: Int!) {
  sensorsOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Sensors {
      results {
        name
        sensorState {
          id
          status
          ticks(limit: $ticks) { timestamp status skipReason error { message } runIds }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

SCHEDULES_QUERY = """
query Schedules($repositorySelector: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Schedules { results { name cronSchedule scheduleState { status } } }
    ... on PythonError { message }
  }
}
"""

# The UI's sensor toggle (ui-core/src/sensors/SensorMutations.tsx) and the asset page's
# stale badges and "why" popover (staleStatusByPartition / staleCausesByPartition).
STOP_SENSOR = """
mutation StopRunningSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { id status } }
    ... on PythonError { message }
  }
}
"""
START_SENSOR = """
mutation StartSensor($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor { id sensorState { id status } }
    ... on PythonError { message }
  }
}
"""
STALENESS = """
query Staleness($assetKeys: [AssetKeyInput!]!, $partitions: [String!]!) {
  assetNodes(assetKeys: $assetKeys) {
    staleStatusByPartition(partitions: $partitions)
    staleCausesByPartition(partitions: $partitions) {
      key { path } partitionKey category reason dependency { path } dependencyPartitionKey
    }
  }
}
"""

# What the UI's Materialize button does for a partitioned asset (dagster-webserver 1.13.27,
# ui-core/src/assets/LaunchAssetExecutionButton.tsx + LaunchAssetChoosePartitionsDialog.tsx):
# LaunchAssetLoaderQuery → ConfigPartitionForAssetJobQuery → LaunchPipelineExecution with
# executionParamsForAssetJob(repoAddress, jobName, assets, tags) and the partition's run config.
LAUNCH_ASSET_LOADER = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    id
    assetKey { path }
    jobNames
    isPartitioned
    repository { name location { name } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name jobNames } } }
  }
}
"""

CONFIG_PARTITION_FOR_ASSET_JOB = """
query ConfigPartitionForAssetJobQuery($repositoryName: String!, $repositoryLocationName: String!,
    $jobName: String!, $partitionName: String!, $assetKeys: [AssetKeyInput!]!) {
  pipelineOrError(params: {pipelineName: $jobName, repositoryName: $repositoryName,
                           repositoryLocationName: $repositoryLocationName}) {
    __typename
    ... on Pipeline {
      id
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        name
        runConfigOrError { __typename ... on PartitionRunConfig { yaml } ... on PythonError { message } }
        tagsOrError { __typename ... on PartitionTags { results { key value } } ... on PythonError { message } }
      }
    }
  }
}
"""

LAUNCH_PIPELINE_EXECUTION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      id status creationTime startTime endTime
      tags { key value }
      assetSelection { path }
      stepStats { stepKey status startTime endTime }
    }
    ... on RunNotFoundError { message }
  }
}
"""

RUNS_QUERY = """
query Runs($limit: Int!) {
  runsOrError(limit: $limit) {
    __typename
    ... on Runs {
      results {
        id status creationTime startTime endTime pipelineName
        tags { key value }
        assetSelection { path }
      }
    }
    ... on PythonError { message }
  }
}
"""

RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { level stepKey message } } }
  }
}
"""

MATERIALIZATIONS = """
query Materializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 10000) {
        partition runId timestamp
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
        }
      }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!, $partition: String) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, partition: $partition, limit: 20) {
    runId status partition
    evaluation {
      success partition severity
      metadataEntries {
        label
        ... on IntMetadataEntry { intValue }
        ... on TextMetadataEntry { text }
      }
    }
  }
}
"""

LATEST_CHECK = """
query LatestCheck($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 1) {
    runId status evaluation { description severity }
  }
}
"""
