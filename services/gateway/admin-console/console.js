// The admin console: plain JavaScript over the admin API. Tokens live in sessionStorage (gone
// with the tab); every text from the API goes in with textContent, never as HTML.

const $ = (selector) => document.querySelector(selector)
const TOKENS = 'imageapi-admin-tokens'
const BACKFILL_POLL_MS = 1000

let tokens = JSON.parse(sessionStorage.getItem(TOKENS) ?? 'null')
let tiers = []
let usersCursor = null
let watchedBackfill = null
let webhookOwner = null

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message ?? body?.detail ?? `the server answered ${status}`)
    this.status = status
    this.field = body?.field
  }
}

// ---- talking to the API -------------------------------------------------------------------

async function send(method, path, body, { retry = true } = {}) {
  const headers = { accept: 'application/json' }
  if (tokens) headers.authorization = `Bearer ${tokens.access}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (response.status === 401 && retry && tokens && (await refreshAccess())) return send(method, path, body, { retry: false })
  if (response.status === 401 && tokens) signedOut('Your session ended; sign in again.')
  const text = await response.text()
  const parsed = text ? JSON.parse(text) : null
  if (!response.ok) throw new ApiFailure(response.status, parsed)
  return parsed
}

const api = {
  get: (path) => send('GET', path),
  post: (path, body) => send('POST', path, body ?? {}),
  patch: (path, body) => send('PATCH', path, body),
  delete: (path) => send('DELETE', path),
}

async function refreshAccess() {
  const response = await fetch('/api/token/refresh/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh: tokens.refresh }),
  })
  if (!response.ok) return false
  // refresh tokens rotate: the answer carries the next one beside the access token, and reusing
  // the old one would end this session
  const { access, refresh } = await response.json()
  tokens = { ...tokens, access, ...(refresh ? { refresh } : {}) }
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens))
  // the queue dashboard's cookie lives as long as an access token: renew it with the token
  await fetch('/api/admin/session', { method: 'POST', headers: { authorization: `Bearer ${tokens.access}` } })
  return true
}

// ---- messages -----------------------------------------------------------------------------

function say(message) {
  $('#status').textContent = message
}

function showError(error, form) {
  const alert = $('#alert')
  alert.textContent = error.message
  alert.hidden = false
  if (form && error.field) markField(form, error.field, error.message)
}

function clearMessages(form) {
  $('#alert').hidden = true
  $('#alert').textContent = ''
  if (!form) return
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid')
  for (const note of form.querySelectorAll('.field-error')) {
    note.hidden = true
    note.textContent = ''
  }
}

/** Puts the server's message next to the field it names, and the focus on that field. */
function markField(form, field, message) {
  const input = form.elements.namedItem(field)
  if (!(input instanceof HTMLElement)) return
  input.setAttribute('aria-invalid', 'true')
  const note = form.querySelector(`#${input.id}-error`)
  if (note) {
    note.textContent = message
    note.hidden = false
  }
  input.focus()
}

async function busy(button, work) {
  button.disabled = true
  try {
    return await work()
  } finally {
    button.disabled = false
  }
}

// ---- sections -----------------------------------------------------------------------------

const SECTIONS = ['tiers', 'users', 'queue', 'webhooks']

function show(section) {
  for (const name of SECTIONS) $(`#${name}`).hidden = name !== section
  for (const button of document.querySelectorAll('#nav [data-section]')) {
    if (button.dataset.section === section) button.setAttribute('aria-current', 'page')
    else button.removeAttribute('aria-current')
  }
  clearMessages()
  const load = { tiers: loadTiers, users: () => loadUsers({ reset: true }), queue: loadQueue, webhooks: loadWebhooks }[section]
  load().catch((error) => showError(error))
}

function signedIn() {
  $('#sign-in').hidden = true
  $('#nav').hidden = false
  show('tiers')
}

function signedOut(message) {
  tokens = null
  sessionStorage.removeItem(TOKENS)
  watchedBackfill = null
  resetWebhooks()
  $('#nav').hidden = true
  for (const name of [...SECTIONS, 'backfill']) $(`#${name}`).hidden = true
  $('#sign-in').hidden = false
  say(message ?? '')
  $('#sign-in-email').focus()
}

// ---- sign in ------------------------------------------------------------------------------

$('#sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.currentTarget
  clearMessages(form)
  const email = form.elements.email.value.trim()
  const password = form.elements.password.value
  const button = form.querySelector('button[type=submit]')
  await busy(button, async () => {
    const response = await fetch('/api/token/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })
    if (!response.ok) {
      showError(new Error(response.status === 429 ? 'Too many attempts; wait a minute.' : 'Wrong email or password.'))
      return
    }
    tokens = await response.json()
    try {
      await api.post('/api/admin/session')
    } catch (error) {
      tokens = null
      showError(error.status === 403 ? new Error('This account is not an admin.') : error)
      return
    }
    sessionStorage.setItem(TOKENS, JSON.stringify(tokens))
    form.reset()
    say(`Signed in as ${email}.`)
    signedIn()
  })
})

$('#sign-out').addEventListener('click', async () => {
  await api.delete('/api/admin/session').catch(() => {})
  signedOut('Signed out.')
})

for (const button of document.querySelectorAll('#nav [data-section]')) {
  button.addEventListener('click', () => show(button.dataset.section))
}

// ---- tiers --------------------------------------------------------------------------------

function cell(text, label) {
  const td = document.createElement('td')
  td.textContent = text
  td.dataset.label = label
  return td
}

function actionButton(text, className, onClick) {
  const button = document.createElement('button')
  button.type = 'button'
  button.textContent = text
  if (className) button.className = className
  button.addEventListener('click', () => onClick(button))
  return button
}

async function loadTiers() {
  tiers = (await api.get('/api/admin/tiers')).items
  const rows = $('#tier-rows')
  rows.replaceChildren(
    ...tiers.map((tier) => {
      const row = document.createElement('tr')
      row.append(
        cell(tier.name, 'Name'),
        cell(tier.thumbnail_heights.map((h) => `${h} px`).join(', '), 'Thumbnails'),
        cell(tier.original_link ? 'yes' : 'no', 'Original'),
        cell(tier.expiring_links ? 'yes' : 'no', 'Expiring links'),
        cell(String(tier.users), 'Users'),
      )
      const actions = document.createElement('td')
      actions.dataset.label = 'Actions'
      const group = document.createElement('div')
      group.className = 'row-actions'
      const edit = actionButton('Edit', 'secondary', () => editTier(tier))
      edit.setAttribute('aria-label', `Edit tier ${tier.name}`)
      const remove = actionButton('Delete', 'danger', (button) => deleteTier(tier, button))
      remove.setAttribute('aria-label', `Delete tier ${tier.name}`)
      group.append(edit, remove)
      actions.append(group)
      row.append(actions)
      return row
    }),
  )
  fillTierChoices()
}

function fillTierChoices() {
  const filter = $('#filter-tier')
  const chosen = filter.value
  filter.replaceChildren(new Option('Any tier', ''), ...tiers.map((tier) => new Option(tier.name, tier.name)))
  filter.value = tiers.some((tier) => tier.name === chosen) ? chosen : ''
}

function editTier(tier) {
  const form = $('#tier-form')
  clearMessages(form)
  form.elements.id.value = String(tier.id)
  form.elements.name.value = tier.name
  form.elements.thumbnail_heights.value = tier.thumbnail_heights.join(', ')
  form.elements.original_link.checked = tier.original_link
  form.elements.expiring_links.checked = tier.expiring_links
  $('#tier-form-title').textContent = `Edit tier ${tier.name}`
  $('#tier-save').textContent = 'Save tier'
  $('#tier-cancel').hidden = false
  form.elements.name.focus()
}

function resetTierForm() {
  const form = $('#tier-form')
  form.reset()
  form.elements.id.value = ''
  $('#tier-form-title').textContent = 'New tier'
  $('#tier-save').textContent = 'Create tier'
  $('#tier-cancel').hidden = true
}

$('#tier-cancel').addEventListener('click', () => {
  clearMessages($('#tier-form'))
  resetTierForm()
})

/** "120, 640" → [120, 640]; anything that is not a number goes to the server as is, which says what is wrong. */
function parseHeights(text) {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part))
}

$('#tier-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.currentTarget
  clearMessages(form)
  const id = form.elements.id.value
  const body = {
    name: form.elements.name.value,
    thumbnail_heights: parseHeights(form.elements.thumbnail_heights.value),
    original_link: form.elements.original_link.checked,
    expiring_links: form.elements.expiring_links.checked,
  }
  await busy($('#tier-save'), async () => {
    try {
      if (id) {
        const { tier, backfill } = await api.patch(`/api/admin/tiers/${id}`, body)
        say(`Tier ${tier.name} saved.`)
        if (backfill) watchBackfill(backfill)
      } else {
        const tier = await api.post('/api/admin/tiers', body)
        say(`Tier ${tier.name} created.`)
      }
      resetTierForm()
      await loadTiers()
    } catch (error) {
      showError(error, form)
    }
  })
})

async function deleteTier(tier, button) {
  clearMessages()
  await busy(button, async () => {
    try {
      await api.delete(`/api/admin/tiers/${tier.id}`)
      say(`Tier ${tier.name} deleted.`)
      await loadTiers()
    } catch (error) {
      showError(error)
    }
  })
}

// ---- users --------------------------------------------------------------------------------

async function loadUsers({ reset }) {
  if (tiers.length === 0) tiers = (await api.get('/api/admin/tiers')).items
  fillTierChoices()
  const filter = $('#user-filter')
  const query = new URLSearchParams({ limit: '20' })
  if (filter.elements.email.value.trim()) query.set('email', filter.elements.email.value.trim())
  if (filter.elements.tier.value) query.set('tier', filter.elements.tier.value)
  if (!reset && usersCursor) query.set('cursor', usersCursor)
  const page = await api.get(`/api/admin/users?${query}`)
  usersCursor = page.next_cursor
  const rows = page.items.map(userRow)
  if (reset) $('#user-rows').replaceChildren(...rows)
  else $('#user-rows').append(...rows)
  $('#users-more').hidden = !usersCursor
  if (reset && page.items.length === 0) say('No user matches.')
}

function userRow(user) {
  const row = document.createElement('tr')
  row.dataset.userId = user.id
  const tierCell = document.createElement('td')
  tierCell.dataset.label = 'Tier'
  const group = document.createElement('div')
  group.className = 'row-actions'
  const select = document.createElement('select')
  select.id = `tier-of-${user.id}`
  select.append(...tiers.map((tier) => new Option(tier.name, tier.name, false, tier.id === user.tier.id)))
  const label = document.createElement('label')
  label.htmlFor = select.id
  label.className = 'visually-hidden'
  label.textContent = `Tier of ${user.email}`
  const move = actionButton('Move', 'secondary', (button) => moveUser(user, select.value, button))
  move.setAttribute('aria-label', `Move ${user.email} to the chosen tier`)
  group.append(label, select, move)
  tierCell.append(group)

  const actions = document.createElement('td')
  actions.dataset.label = 'Actions'
  const toggle = user.is_active
    ? actionButton('Deactivate', 'danger', (button) => setActive(user, false, button))
    : actionButton('Activate', 'secondary', (button) => setActive(user, true, button))
  toggle.setAttribute('aria-label', `${user.is_active ? 'Deactivate' : 'Activate'} ${user.email}`)
  actions.append(toggle)

  row.append(
    cell(user.email + (user.is_admin ? ' (admin)' : ''), 'Email'),
    tierCell,
    cell(String(user.images), 'Images'),
    cell(user.is_active ? 'active' : 'inactive', 'Status'),
    actions,
  )
  return row
}

function replaceUserRow(user) {
  const old = document.querySelector(`#user-rows tr[data-user-id="${user.id}"]`)
  if (old) old.replaceWith(userRow(user))
}

async function moveUser(user, tierName, button) {
  clearMessages()
  await busy(button, async () => {
    try {
      const { user: moved, backfill } = await api.patch(`/api/admin/users/${user.id}`, { tier: tierName })
      replaceUserRow(moved)
      say(`${moved.email} is now on tier ${moved.tier.name}.`)
      if (backfill) watchBackfill(backfill)
    } catch (error) {
      showError(error)
    }
  })
}

async function setActive(user, active, button) {
  clearMessages()
  await busy(button, async () => {
    try {
      const changed = active ? (await api.patch(`/api/admin/users/${user.id}`, { is_active: true })).user : (await api.post(`/api/admin/users/${user.id}/deactivate`)).user
      replaceUserRow(changed)
      say(`${changed.email} is ${changed.is_active ? 'active' : 'deactivated'}.`)
    } catch (error) {
      showError(error)
    }
  })
}

$('#user-filter').addEventListener('submit', (event) => {
  event.preventDefault()
  clearMessages()
  say('')
  loadUsers({ reset: true }).catch((error) => showError(error))
})

$('#users-more').addEventListener('click', () => loadUsers({ reset: false }).catch((error) => showError(error)))

// ---- backfill progress ----------------------------------------------------------------------

function describeBackfill(backfill) {
  const failed = backfill.failed ? `, ${backfill.failed} failed` : ''
  if (backfill.finished) return `Backfill finished: ${backfill.done} of ${backfill.total} thumbnails made${failed}.`
  return `${backfill.done} of ${backfill.total} thumbnails made${failed} (${backfill.heights.map((h) => `${h} px`).join(', ')} for ${backfill.images} images)…`
}

function renderBackfill(backfill) {
  $('#backfill').hidden = false
  const progress = $('#backfill-progress')
  progress.max = Math.max(backfill.total, 1)
  progress.value = backfill.done + backfill.failed
  $('#backfill-text').textContent = describeBackfill(backfill)
}

function watchBackfill(backfill) {
  watchedBackfill = backfill.id
  renderBackfill(backfill)
  const poll = async () => {
    if (watchedBackfill !== backfill.id) return
    try {
      const latest = await api.get(`/api/admin/backfills/${backfill.id}`)
      renderBackfill(latest)
      if (latest.finished) return
    } catch (error) {
      if (error.status === 401) return
    }
    setTimeout(poll, BACKFILL_POLL_MS)
  }
  if (!backfill.finished) setTimeout(poll, BACKFILL_POLL_MS)
}

// ---- queue --------------------------------------------------------------------------------

function renderQueue(status) {
  $('#queue-state').textContent = status.paused ? 'Processing is paused: workers take no new jobs.' : 'Processing is running.'
  $('#queue-pause').hidden = status.paused
  $('#queue-resume').hidden = !status.paused
  $('#queue-counts').replaceChildren(
    ...Object.entries(status.counts).map(([state, count]) => {
      const item = document.createElement('div')
      const term = document.createElement('dt')
      term.textContent = state
      const value = document.createElement('dd')
      value.textContent = String(count)
      item.append(term, value)
      return item
    }),
  )
}

async function loadQueue() {
  const [status, backfills] = await Promise.all([api.get('/api/admin/queue'), api.get('/api/admin/backfills?limit=10')])
  renderQueue(status)
  $('#backfill-rows').replaceChildren(
    ...backfills.items.map((backfill) => {
      const row = document.createElement('tr')
      row.append(
        cell(new Date(backfill.created_at).toLocaleString(), 'Started'),
        cell(backfill.reason.replace('_', ' '), 'Why'),
        cell(backfill.tier?.name ?? '–', 'Tier'),
        cell(backfill.heights.map((h) => `${h} px`).join(', '), 'Heights'),
        cell(`${backfill.done}/${backfill.total}${backfill.failed ? ` (${backfill.failed} failed)` : ''}${backfill.finished ? ' ✓' : ''}`, 'Progress'),
      )
      return row
    }),
  )
}

const queueActions = {
  '#queue-refresh': async () => loadQueue(),
  '#queue-pause': async () => {
    renderQueue(await api.post('/api/admin/queue/pause'))
    say('Processing paused.')
  },
  '#queue-resume': async () => {
    renderQueue(await api.post('/api/admin/queue/resume'))
    say('Processing resumed.')
  },
  '#queue-retry': async () => {
    const result = await api.post('/api/admin/queue/retry-failed')
    renderQueue(result.queue)
    say(`Queued ${result.images} images again (${result.thumbnails} thumbnails).`)
  },
}

for (const [selector, action] of Object.entries(queueActions)) {
  $(selector).addEventListener('click', (event) => {
    clearMessages()
    busy(event.currentTarget, action).catch((error) => showError(error))
  })
}

// ---- webhooks -----------------------------------------------------------------------------

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '–'
}

function resetWebhooks() {
  webhookOwner = null
  $('#webhook-owner').textContent = ''
  $('#webhook-rows').replaceChildren()
  $('#webhook-list').hidden = true
  $('#webhook-detail').hidden = true
}

/** The user typed: an id as it is, an email through the users' search (the one that matches exactly, or the only one found). */
async function findWebhookOwner(typed) {
  if (USER_ID.test(typed)) return typed
  const page = await api.get(`/api/admin/users?${new URLSearchParams({ email: typed, limit: '20' })}`)
  const exact = page.items.find((user) => user.email.toLowerCase() === typed.toLowerCase())
  if (exact) return exact.id
  if (page.items.length === 1) return page.items[0].id
  if (page.items.length === 0) throw Object.assign(new Error('No user has that email or id.'), { field: 'user' })
  const shown = page.items.slice(0, 5).map((user) => user.email).join(', ')
  throw Object.assign(new Error(`${page.next_cursor ? 'Many' : page.items.length} users match (${shown}${page.items.length > 5 ? ', …' : ''}): type the whole email or the id.`), { field: 'user' })
}

async function loadWebhooks() {
  if (webhookOwner) await showWebhooks(webhookOwner)
}

async function showWebhooks(userId) {
  const { user, items } = await api.get(`/api/admin/users/${encodeURIComponent(userId)}/webhooks`)
  webhookOwner = user.id
  const disabled = items.filter((item) => !item.endpoint.enabled).length
  $('#webhook-owner').textContent =
    items.length === 0
      ? `${user.email} has no webhook endpoints.`
      : `${user.email} has ${items.length} webhook endpoint${items.length === 1 ? '' : 's'}${disabled ? `, ${disabled} disabled` : ''}.`
  $('#webhook-list').hidden = items.length === 0
  $('#webhook-detail').hidden = true
  $('#webhook-rows').replaceChildren(...items.map(webhookRow))
}

function endpointState(endpoint) {
  if (endpoint.enabled) return 'enabled'
  return endpoint.disabled_reason ? `disabled: ${endpoint.disabled_reason}` : 'disabled (by its owner)'
}

function webhookRow(item) {
  const { endpoint } = item
  const row = document.createElement('tr')
  row.dataset.endpointId = endpoint.id
  const last = item.last_delivery
  const actions = document.createElement('td')
  actions.dataset.label = 'Actions'
  const open = actionButton('Deliveries', 'secondary', (button) => showDeliveries(endpoint, button))
  open.setAttribute('aria-label', `Deliveries to ${endpoint.url}`)
  actions.append(open)
  row.append(
    cell(endpoint.url, 'URL'),
    cell(endpoint.events.join(', '), 'Events'),
    cell(endpointState(endpoint), 'State'),
    cell(String(item.consecutive_failures), 'Failures in a row'),
    cell(when(item.failing_since), 'Failing since'),
    cell(last ? `${last.status}${last.last_status_code === null ? '' : ` (${last.last_status_code})`}, ${when(last.updated_at)}` : 'none yet', 'Last delivery'),
    actions,
  )
  if (!endpoint.enabled) row.classList.add('disabled')
  return row
}

async function showDeliveries(endpoint, button) {
  clearMessages()
  await busy(button, async () => {
    try {
      const health = await api.get(`/api/admin/webhooks/${encodeURIComponent(endpoint.id)}`)
      $('#webhook-detail-title').textContent = `Deliveries to ${health.endpoint.url}`
      const failing = health.failing_since ? `, failing since ${when(health.failing_since)}` : ''
      $('#webhook-detail-state').textContent = `${endpointState(health.endpoint)}; ${health.consecutive_failures} failed in a row${failing}.`
      $('#delivery-rows').replaceChildren(
        ...health.deliveries.map((delivery) => {
          const row = document.createElement('tr')
          row.append(
            cell(when(delivery.created_at), 'Queued'),
            cell(delivery.event_type, 'Event'),
            cell(delivery.status, 'Status'),
            cell(String(delivery.attempts), 'Attempts'),
            cell(delivery.last_status_code === null ? '–' : String(delivery.last_status_code), 'Last status code'),
            cell(delivery.last_latency_ms === null ? '–' : `${delivery.last_latency_ms} ms`, 'Latency'),
            cell(delivery.last_error ?? '–', 'Error'),
            cell(when(delivery.next_attempt_at), 'Next attempt'),
          )
          return row
        }),
      )
      if (health.deliveries.length === 0) $('#webhook-detail-state').textContent += ' No deliveries yet.'
      $('#webhook-detail').hidden = false
      $('#webhook-detail-title').focus()
    } catch (error) {
      showError(error)
    }
  })
}

$('#webhook-filter').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.currentTarget
  clearMessages(form)
  say('')
  const typed = form.elements.user.value.trim()
  if (!typed) {
    markField(form, 'user', 'Type a user\'s email or id.')
    return
  }
  await busy(form.querySelector('button[type=submit]'), async () => {
    try {
      resetWebhooks()
      await showWebhooks(await findWebhookOwner(typed))
    } catch (error) {
      if (error.status === 404) error.field = 'user'
      showError(error, form)
    }
  })
})

// ---- start --------------------------------------------------------------------------------

if (tokens) {
  // a reload keeps the tab's tokens; the dashboard cookie may have lapsed meanwhile
  api.post('/api/admin/session').catch(() => {})
  signedIn()
} else signedOut()
