"""The engine: how a plan runs, whatever component it deploys.

Imports point one way (no circle): session → runner, checklist, lock, records → live →
report, view, console (hostscript, which follows a host run, takes a Live too); the failure
policy and the on-host step loop are tasks/onhost/.

steps      Step, Plan, CheckItem (and Upload, upload.py): the manual's steps as data
view       RunView: the frozen facts of one run that command builders read
report     what a run reports: each step's result, the downtime, how it ended (and in Korean)
live       a run's link to its host and operator (what steps, checks, records, the runner
           take; the session is one): view, connection, console, report, reads
runner     runs a plan through a Live: uploads, output, timing, the policy
console    what the operator sees: masked lines, tables, live progress
session    one task on one host: connect, lock, banner, record, notice, summary
lock       the per-host deploy lock (mkdir on the host)
interrupt  Ctrl-C: the first stops and rolls back, the second says how to recover
records    deploy records and the deployed-revision stack
checklist  배포 전/중/후 items: automatic checks and yes/no prompts
notify     Discord notices
"""
