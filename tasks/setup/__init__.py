"""`fab setup` and `fab push-config`: from a bare host to one that serves (packages, the
deploy login, the root helper, TLS, the firewall, the apps' first checkout and build)."""
