"""Config as code: the host's nginx site, systemd units and MariaDB config from templates/.

render    the files a host gets, rendered (pure)
state     what the host has, and the changes against it (pure)
commands  validate, back up, install, reload (pure shell builders)
plan      the push-config plan and its rollback
"""
