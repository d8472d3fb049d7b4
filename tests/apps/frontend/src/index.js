// Client-side app: talks to the backend's /api. The build replaces the two constants.
const API_URL = __REACT_APP_API_URL__;
const FRONTEND_VERSION = __VERSION__;

function api(path, options) {
  return fetch(API_URL + path, options).then((response) => {
    if (!response.ok) {
      throw new Error(path + ': HTTP ' + response.status);
    }
    return response.json();
  });
}

function renderNotes(notes) {
  const list = document.getElementById('notes');
  list.replaceChildren(
    ...notes.map((note) => {
      const item = document.createElement('li');
      item.textContent = note.text;
      item.dataset.id = String(note.id);
      return item;
    }),
  );
}

function refresh() {
  api('/api/notes').then(renderNotes, (error) => console.warn(error.message));
}

document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('backend-version');
  api('/api/version').then(
    (body) => {
      status.textContent = 'backend: ' + body.version;
    },
    () => {
      status.textContent = 'backend: unreachable';
    },
  );
  document.getElementById('note-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('note-text');
    api('/api/notes', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: input.value }),
    }).then(() => {
      input.value = '';
      refresh();
    }, (error) => console.warn(error.message));
  });
  refresh();
  console.info('dojangkok frontend ' + FRONTEND_VERSION);
});
