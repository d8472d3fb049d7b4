// POST /bff/notes: a backend-for-frontend route handler that takes a body.
'use strict';

let count = 0;

module.exports = {
  POST: ({ body }) => {
    let text = '';
    try {
      text = String(JSON.parse(body || '{}').text || '');
    } catch (e) {
      return [400, 'application/json', JSON.stringify({ error: 'invalid JSON' })];
    }
    count += 1;
    return [201, 'application/json', JSON.stringify({ id: count, text })];
  },
};
