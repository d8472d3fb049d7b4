"""The engine: how a plan runs, whatever component it deploys.

steps      Step, Plan, CheckItem, Upload: the manual's steps as data
policy     what a failure or an interruption means (pure)
view       RunView: the frozen facts of one run that command builders read
runner     runs a plan through a session: uploads, output, timing, the policy
console    what the operator sees: masked lines, tables, live progress
session    one task on one host: connect, lock, banner, record, notice, summary
lock       the per-host deploy lock (mkdir on the host)
interrupt  Ctrl-C: the first stops and rolls back, the second says how to recover
records    deploy records and the deployed-revision stack
checklist  배포 전/중/후 items: automatic checks and yes/no prompts
notify     Discord notices
"""
