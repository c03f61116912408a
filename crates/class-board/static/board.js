// The class board's page: polls GET /api/reports and draws one row per learner.
//
// Every name and summary comes from someone on the room's network, so all of it is put on the
// page as text (textContent, setAttribute), never parsed as HTML.
'use strict';

// How often the page asks for the board's state. Reports arrive once per check, seconds apart.
const POLL_MS = 2000;

// The fragment's settings (#token=…&instructor=…&projector=1). A fragment is never sent to a
// server, so the tokens stay out of logs and Referer headers.
function setting(name) {
  return new URLSearchParams(location.hash.slice(1)).get(name) || '';
}

function token() {
  return setting('token');
}

// Only the instructor's own link carries this token; with it, rows can be merged and removed.
function instructorToken() {
  return setting('instructor');
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

function minutes(ms) {
  return Math.floor(ms / 60000);
}

// The same words as class-protocol's Kind::words.
const KIND_WORDS = {
  passed: 'passes',
  compile_error: 'does not compile',
  todo: 'reached a todo!()',
  panic: 'panicked',
  expectation: 'expectation not met',
  other: 'fails',
};

// What a cell says about a check: its kind, then where (or which concept), then the text.
function describe(cell) {
  const kind = KIND_WORDS[cell.kind] || (cell.result === 'pass' ? 'passes' : 'fails');
  const where = cell.place || cell.concept || '';
  return { kind, where, text: cell.summary };
}

// `exercises/exercise-03/src/chat_api.rs:42` as `src/chat_api.rs:42`: the step is in its own
// column already, and a projector has no room to spare. The cell's title keeps it whole.
function shortPlace(place) {
  return place.replace(/^(exercises|solutions)\/[^/]+\//, '');
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

function projector() {
  return document.body.classList.contains('projector');
}

function drawColumns(steps) {
  const columns = document.getElementById('columns');
  const cells = [el('th', 'name', 'Learner')];
  for (const step of steps) cells.push(el('th', 'step', step));
  cells.push(el('th', 'when', 'When'), el('th', 'last', 'Last check'));
  if (instructorToken()) cells.push(el('th', 'act', ''));
  columns.replaceChildren(...cells);
}

function drawTotals(board) {
  const cells = [el('td', 'name', 'passed/tried')];
  for (const total of board.totals) {
    const td = el('td', 'total', total.tried ? `${total.passed}/${total.tried}` : '·');
    td.setAttribute('title', `step ${total.step}: ${total.passed} of the ${total.tried} who tried it pass`);
    cells.push(td);
  }
  cells.push(el('td'), el('td'));
  if (instructorToken()) cells.push(el('td'));
  document.getElementById('totals').replaceChildren(...cells);
}

function badge(kind, text, title) {
  const span = el('span', `badge ${kind}`, text);
  if (title) span.setAttribute('title', title);
  return span;
}

function drawLearner(board, learner) {
  const row = el('tr', 'learner');
  row.classList.toggle('stuck', learner.stuck);
  row.classList.toggle('silent', learner.silent);
  const name = el('td', 'name');
  if (board.jaeger_ui_url) {
    const link = el('a', '', learner.name);
    link.setAttribute('href', tracesUrl(board.jaeger_ui_url, learner.namespace));
    link.setAttribute('target', '_blank');
    link.setAttribute('rel', 'noopener noreferrer');
    link.setAttribute('title', `${learner.name}'s traces (service.namespace=${learner.namespace})`);
    name.append(link);
  } else {
    name.append(learner.name);
  }
  name.setAttribute('data-name', learner.name);
  row.append(name);

  for (const step of board.steps) {
    const cell = learner.steps[step];
    if (cell) {
      const td = el('td', `step ${cell.result}`, symbol(cell.result));
      if (!projector()) {
        const { kind, where, text } = describe(cell);
        td.setAttribute('title', `${step}: ${kind} ${where} ${text} (${ago(board.now_ms - cell.at_ms)})`);
      }
      row.append(td);
    } else {
      row.append(el('td', 'step none', '·'));
    }
  }

  const last = learner.last;
  row.append(el('td', 'ago', ago(board.now_ms - last.at_ms)));

  const { kind, where, text } = describe(last);
  const summary = el('td', 'summary');
  // First line: the step, the kind and the marks; second line: where, and what the check said.
  const headline = el('div', 'headline');
  headline.append(el('span', 'kind', `${learner.last_step} ${symbol(last.result)} ${kind}`));
  if (learner.stuck) {
    const failing = minutes(learner.failing_for_ms);
    headline.append(badge('stuck', `stuck ${failing} min`, `failing on step ${learner.last_step} for ${failing} minutes`));
  }
  if (learner.silent) headline.append(badge('silent', 'silent', 'no check for a while'));
  if (learner.laptops > 1) {
    headline.append(badge('laptops', `${learner.laptops} laptops`, 'more than one laptop reports under this name: ask them to pick different names'));
  }
  if (last.hints_used > 0) headline.append(badge('hints', `hints ${last.hints_used}`, 'hints opened for this step'));
  summary.append(headline);
  // The check's words, unless they only repeat the kind ("does not compile").
  const words = text === kind ? '' : text;
  if (last.result === 'fail' && (where || words)) {
    const detail = el('div', 'detail');
    if (where) detail.append(el('span', 'place', shortPlace(where)));
    if (where && words) detail.append(' · ');
    if (words) detail.append(el('span', 'text', words));
    summary.append(detail);
  }
  if (!projector()) summary.setAttribute('title', `${kind} ${where} ${text}`);
  row.append(summary);

  if (instructorToken()) row.append(actions(learner.name));
  return row;
}

// The instructor's buttons: merge this row into another (someone who joined twice under two
// spellings), or remove it (a test, a typo).
function actions(name) {
  const td = el('td', 'act');
  const merge = el('button', 'row-action', 'merge');
  merge.setAttribute('title', `merge ${name}'s row into another learner's`);
  merge.addEventListener('click', () => {
    const into = prompt(`Merge "${name}" into which learner? (their name as shown)`);
    if (into) act({ action: 'merge', from: name, into });
  });
  const remove = el('button', 'row-action', '✕');
  remove.setAttribute('title', `remove ${name}'s row`);
  remove.addEventListener('click', () => {
    if (confirm(`Remove "${name}" from the board? Their next check makes a new row.`)) {
      act({ action: 'remove', name });
    }
  });
  td.append(merge, remove);
  return td;
}

async function act(action) {
  const response = await fetch('/api/action', {
    method: 'POST',
    headers: { Authorization: `Bearer ${instructorToken()}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(action),
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    showStatus(`The board did not do it: ${answer.error || response.status}`, true);
    return;
  }
  await refresh();
}

function drawJoin(board) {
  const join = document.getElementById('join');
  join.hidden = board.join.length === 0;
  if (join.hidden) return;
  document.getElementById('join-line').textContent = board.join[0];
  document.getElementById('join-more').textContent =
    board.join.length > 1 ? `(or one of ${board.join.length - 1} other addresses: see the board's terminal)` : '';
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
  drawJoin(board);
  document.getElementById('learners').replaceChildren(
    ...board.learners.map((learner) => drawLearner(board, learner)),
  );
  drawTotals(board);
  const joined = document.getElementById('joined');
  joined.hidden = board.joined.length === 0;
  joined.textContent = `Joined, no check yet: ${board.joined.join(', ')}`;
  document.getElementById('stuck-minutes').textContent = minutes(board.marks.stuck_after_ms);
  document.getElementById('silent-minutes').textContent = minutes(board.marks.silent_after_ms);
  document.getElementById('board').hidden = false;
  const people = board.learners.length === 1 ? 'learner' : 'learners';
  const stuck = board.learners.filter((learner) => learner.stuck).length;
  const checks = board.reports === 1 ? 'check' : 'checks';
  showStatus(`${board.learners.length} ${people} · ${board.reports} ${checks} reported · ${stuck} stuck`, false);
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

// Projector mode is kept in the fragment, so a reload (or the link) keeps it.
function setProjector(on) {
  document.body.classList.toggle('projector', on);
  const params = new URLSearchParams(location.hash.slice(1));
  if (on) params.set('projector', '1');
  else params.delete('projector');
  history.replaceState(null, '', `#${params}`);
  document.getElementById('projector-toggle').textContent = on ? 'Leave projector mode' : 'Projector mode';
}

function start() {
  setProjector(setting('projector') === '1');
  document.getElementById('projector-toggle').addEventListener('click', () => {
    setProjector(!projector());
    refresh().catch(() => {});
  });
  const form = document.getElementById('token-form');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = document.getElementById('token-input').value.trim();
    // Keep the other settings of the link (projector mode, the instructor's token).
    const params = new URLSearchParams(location.hash.slice(1));
    params.set('token', value);
    location.hash = params.toString();
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
