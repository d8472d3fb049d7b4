// What the team's real app sets: `next build` then writes .next/standalone/server.js, a
// self-contained Node server (`node server.js`, PORT and HOSTNAME from the environment).
module.exports = {
  output: 'standalone',
};
