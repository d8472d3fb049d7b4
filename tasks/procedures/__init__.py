"""The manual's procedures: each section's plans, and the flows that run them.

frontend, backend, ai   manual §A, §B, §C: plan(view), rollback_plan(view), state_command(view)
backup                  manual B3–B4 alone, and the DB restore
common                  the steps and checklist items the sections share
deploy                  the flows: deploy, rollback, backup, restore (on a session)
full                    manual §D: every component, in order or per host in parallel
provision               setup and push-config
health                  `fab health`
"""

from __future__ import annotations

from tasks.procedures import ai, backend, frontend

#: component name → its procedure module (plan, rollback_plan, state_command)
PROCEDURES = {"frontend": frontend, "backend": backend, "ai": ai}
