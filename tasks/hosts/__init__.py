"""The hosts and what is known about them before connecting.

inventory  hosts.ini (Ansible INI) → hosts with their settings
settings   every setting, its default being the manual's value
secrets    .env: passwords and the webhook, masked everywhere
connect    SSH with host key checking
remote     commands on a host: streamed, cancellable, noticing a dropped connection
"""
