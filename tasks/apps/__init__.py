"""One home per application.

``base`` is the interface every app implements (names, group, manual section, health check,
the service that serves it, the secrets its deploy needs) and sits low: the strategies,
setup, config and local builds depend on it, never on a concrete app. Each app is one
package (``frontend/``, ``backend/``, ``ai/``): everything that is true of that app alone
lives there. ``registry`` lists them, in the manual's order; the fab tasks come from it.
"""
