// The page's client bundle: asks the frontend's own route handler which version serves.
fetch('/bff/version')
  .then((r) => r.json())
  .then((v) => document.body.setAttribute('data-served', v.version))
  .catch(() => {});
