// GET /bff/version: the version this server was built from (frontend_version_url).
'use strict';

module.exports = {
  GET: ({ version }) => [200, 'application/json', JSON.stringify({ version })],
};
