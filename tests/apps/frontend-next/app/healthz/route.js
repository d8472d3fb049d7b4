// GET /healthz: the deploy's health check (frontend_health_path).
'use strict';

module.exports = {
  GET: ({ broken }) => (broken ? [503, 'text/plain', 'broken\n'] : [200, 'text/plain', 'ok\n']),
};
