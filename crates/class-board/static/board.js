// The class board's page: polls GET /api/reports and draws one row per learner.
//
// Every name and summary comes from someone on the room's network, so all of it is put on the
// page as text (textContent, setAttribute), never parsed as HTML.
'use strict';

// How often the page asks for the board's state. Reports arrive once per check, seconds apart.
const POLL_MS = 2000;

// The token comes in the URL's fragment (#token=…), which the browser never sends to a
// server, so it stays out of logs and Referer headers.
function token() {
  return new URLSearchParams(location.hash.slice(1)).get('token') || '';
}

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

// "just now", "42 s ago", "3 min ago", "2 h ago".
function ago(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  return `${Math.round(minutes / 60)} h ago`;
}

// The learner's traces in the shared Jaeger: a search for chat-api's traces whose resource
// carries service.namespace=<the learner's namespace>. Jaeger's UI reads `tags` as a JSON
// object of attributes (jaeger-ui SearchTracePage/url.ts, SearchForm.tsx convTagsLogfmt);
// `lookback` is needed for a link without start and end times.
function tracesUrl(jaeger, namespace) {
  const query = new URLSearchParams({
    service: 'chat-api',
    lookback: '1h',
    limit: '20',
    tags: JSON.stringify({ 'service.namespace': namespace }),
  });
  return `${jaeger}/search?${query}`;
}

function symbol(result) {
  return result === 'pass' ? '✓' : '✗';
}

function drawColumns(steps) {
  const columns = document.getElementById('columns');
  const cells = [el('th', 'name', 'Learner')];
  for (const step of steps) cells.push(el('th', 'step', step));
  cells.push(el('th', 'name', 'Last check'), el('th', '', 'When'));
  columns.replaceChildren(...cells);
}

function drawLearner(board, learner) {
  const row = el('tr', 'learner');
  const name = el('td', 'name');
  if (board.jaeger_ui_url) {
    const link = el('a', '', learner.name);
    link.setAttribute('href', tracesUrl(board.jaeger_ui_url, learner.namespace));
    link.setAttribute('target', '_blank');
    link.setAttribute('rel', 'noopener noreferrer');
    link.setAttribute('title', `${learner.name}'s traces (service.namespace=${learner.namespace})`);
    name.append(link);
  } else {
    name.textContent = learner.name;
  }
  row.append(name);

  for (const step of board.steps) {
    const cell = learner.steps[step];
    if (cell) {
      const td = el('td', `step ${cell.result}`, symbol(cell.result));
      td.setAttribute('title', `${step}: ${cell.summary} (${ago(board.now_ms - cell.at_ms)})`);
      row.append(td);
    } else {
      row.append(el('td', 'step none', '·'));
    }
  }

  const last = learner.last;
  const summary = el('td', 'summary', `${learner.last_step} ${symbol(last.result)} ${last.summary}`);
  summary.setAttribute('title', summary.textContent);
  row.append(summary, el('td', 'ago', ago(board.now_ms - last.at_ms)));
  return row;
}

function showStatus(text, trouble) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.classList.toggle('trouble', trouble);
}

async function refresh() {
  const response = await fetch('/api/reports', {
    headers: { Authorization: `Bearer ${token()}` },
    cache: 'no-store',
  });
  if (response.status === 401) {
    showStatus('Wrong token: the board refused it.', true);
    document.getElementById('token-form').hidden = false;
    return;
  }
  if (!response.ok) throw new Error(`the board answered ${response.status}`);
  const board = await response.json();
  drawColumns(board.steps);
  document.getElementById('learners').replaceChildren(
    ...board.learners.map((learner) => drawLearner(board, learner)),
  );
  document.getElementById('board').hidden = false;
  const people = board.learners.length === 1 ? 'learner' : 'learners';
  showStatus(`${board.learners.length} ${people} · ${board.reports} checks reported`, false);
}

let polling = false;

async function poll() {
  polling = true;
  try {
    await refresh();
  } catch (error) {
    showStatus(`Cannot reach the board (${error.message}); trying again…`, true);
  }
  setTimeout(poll, POLL_MS);
}

function start() {
  const form = document.getElementById('token-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = document.getElementById('token-input').value.trim();
    location.hash = new URLSearchParams({ token: value }).toString();
    form.hidden = true;
    showStatus('Loading…', false);
    if (!polling) poll();
  });
  if (!token()) {
    form.hidden = false;
    showStatus('Waiting for the token.', false);
    return;
  }
  poll();
}

start();
