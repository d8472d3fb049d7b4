// The main page (Next's app/page.js), rendered on the server for every request.
'use strict';

module.exports = function page({ version, apiUrl, assets }) {
  return `<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="dojangkok-version" content="${version}">
<title>도장콕</title>
<link rel="stylesheet" href="/_next/static/${assets.css}">
</head>
<body>
<main id="__next" data-api-url="${apiUrl}">
<h1>dojangkok frontend ${version}</h1>
<p>Next.js standalone server</p>
</main>
<script src="/_next/static/${assets.js}" defer></script>
</body>
</html>
`;
};
