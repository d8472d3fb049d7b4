"""The hosts and what is known about them before connecting.

inventory       hosts.ini (Ansible INI) → hosts with their settings: the public API
ini_syntax      the inventory's grammar: host patterns, ports, ranges, values
ini_reader      the inventory's lines read into sections, groups, hosts and variables
ini_precedence  group membership and variable precedence, as Ansible reconciles them
inventory_vars  the ansible_* variables the inventory may set, and the setting names
settings        every setting, its default being the manual's value
secrets         .env: passwords and the webhook, masked everywhere; the start-up check
masking         a secret hidden in output whole, in every encoded form, also when streamed
connect         SSH with host key checking
remote          commands on a host: streamed, cancellable, noticing a dropped connection
"""
