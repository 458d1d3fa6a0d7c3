"""The agent: the service that runs unattended above the engine.

- `jobstore`: the job history (SQLite, WAL) with slot outcomes and the scheduler's notes.
- `runner`: the job queue, one job at a time, progress and warnings into the history.
- `execute`: what each kind of job does with the engine; summaries sealed into the vault.
- `scheduler`: due backups (scheduled, late, missed), the daily prune, the weekly check share.
- `api`, `client`: the local HTTP API on 127.0.0.1 with a bearer secret, and the CLI's side of it.
- `service`: `cairn agent run`, one per CAIRN_HOME.
- `firststart`: a first start with nothing registered makes a local vault and the default policy.
"""
