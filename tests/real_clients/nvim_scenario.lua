-- Drives a real plue-sidecar from headless Neovim through vim.lsp.rpc.start, the RPC
-- client Neovim's own LSP client is built on (works on Neovim 0.7 and later).
--
-- Run by tests/test_real_clients.py as
--   nvim --headless --clean -n -i NONE -c 'luafile nvim_scenario.lua'
-- with, in the environment:
--   PLUE_RC_CMD       the sidecar's command line, a JSON array of strings
--   PLUE_RC_OUT       the file to write the report to: one JSON object per line
--   PLUE_RC_WAIT_MS   how long to wait for any one answer (ms)
--
-- The script judges nothing: every line records what Neovim saw for one step
-- (`{"step": name, ...}`) and the pytest test checks each against protocol.md. Lua
-- sees JSON null inside objects as nil, so a null field is simply absent from a line.
-- Every wait is bounded; the last line is {"step":"done"}, or {"step":"crashed"} with
-- the Lua error, and Neovim always quits.

local out = assert(io.open(assert(os.getenv('PLUE_RC_OUT')), 'w'))
local command = vim.json.decode(assert(os.getenv('PLUE_RC_CMD')))
local wait_ms = tonumber(os.getenv('PLUE_RC_WAIT_MS') or '15000')

local function emit(step, record)
  record = record or {}
  record.step = step
  out:write(vim.json.encode(record), '\n')
  out:flush()
end

local notifications = {}
local exited = nil
local rpc_errors = {}
local rpc = nil

local function scenario()
  local cmd = table.remove(command, 1)
  rpc = vim.lsp.rpc.start(cmd, command, {
    notification = function(method, params)
      table.insert(notifications, { method = method, params = params })
    end,
    on_exit = function(code, signal)
      exited = { code = code, signal = signal }
    end,
    on_error = function(kind, err)
      table.insert(rpc_errors, { kind = vim.lsp.rpc.client_errors[kind] or kind, err = tostring(err) })
    end,
  })
  assert(rpc, 'vim.lsp.rpc.start could not spawn the sidecar')

  -- Send a request; the returned table fills in when its answer arrives.
  local function send(method, params)
    local pending = { method = method, answered = false }
    local ok, id = rpc.request(method, params, function(err, result)
      pending.answered = true
      pending.error = err
      pending.result = result
    end)
    pending.sent = ok
    pending.id = id
    return pending
  end

  local function await(pending)
    vim.wait(wait_ms, function() return pending.answered end, 5)
    return {
      method = pending.method, id = pending.id, sent = pending.sent,
      answered = pending.answered, error = pending.error, result = pending.result,
    }
  end

  local function call(method, params)
    return await(send(method, params))
  end

  local function since(mark)
    local seen = {}
    for index = mark + 1, #notifications do table.insert(seen, notifications[index]) end
    return seen
  end

  local function call_step(step, method, params)
    local mark = #notifications
    local record = call(method, params)
    record.notifications = since(mark)
    emit(step, record)
    return record
  end

  -- Waits for the first session/update of `session_id` after notification `mark`.
  local function first_update(session_id, mark)
    local found = nil
    vim.wait(wait_ms, function()
      for index = mark + 1, #notifications do
        local note = notifications[index]
        if note.method == 'session/update' and note.params.sessionId == session_id then
          found = note
          return true
        end
      end
      return false
    end, 5)
    return found
  end

  local function words(count)
    local list = {}
    for index = 1, count do table.insert(list, 'wörd' .. index) end
    return table.concat(list, ' ')
  end

  local function text(value) return { { type = 'text', text = value } } end

  -- initialize, as Neovim's own LSP client sends it.
  local init = call_step('initialize', 'initialize', {
    processId = vim.fn.getpid(),
    clientInfo = { name = 'Neovim', version = tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) },
    rootUri = vim.NIL,
    capabilities = vim.lsp.protocol.make_client_capabilities(),
  })
  if not init.result then return end
  rpc.notify('initialized', vim.empty_dict())

  local root = call_step('create', 'session/create', { title = 'Grüße 🚀 — 世界' })
  if not root.result then return end
  local root_id = root.result.id
  local child = call_step('child', 'session/create', { parentId = root_id, title = 'child ✓' })
  if not child.result then return end
  local child_id = child.result.id

  call_step('list_children', 'session/list', { parentId = root_id })
  -- An empty Lua table: vim.json sends it as `"params":[]`.
  call_step('list_all', 'session/list', {})

  call_step('update_title', 'session/updateTitle', { sessionId = root_id, title = '  Ünïcødé 标题  ' })

  local appended = call_step('append', 'message/append', {
    sessionId = root_id, role = 'user', parts = text('héllo wörld ✓'),
  })

  call_step('prompt', 'session/prompt', { sessionId = root_id, parts = text('alpha béta 🚀') })
  call_step('prompt_messages', 'message/list', { sessionId = root_id })

  -- abort: a turn is running (its first word has streamed); session/abort its session.
  do
    local mark = #notifications
    local turn = send('session/prompt', { sessionId = root_id, parts = text(words(200)) })
    local first = first_update(root_id, mark)
    local abort = first and call('session/abort', { sessionId = root_id }) or nil
    local answer = await(turn)
    emit('abort', {
      streaming = first ~= nil, abort = abort, prompt = answer, notifications = since(mark),
    })
    call_step('abort_get', 'session/get', { sessionId = root_id })
    call_step('abort_messages', 'message/list', { sessionId = root_id, afterSeq = 3 })
  end

  -- $/cancelRequest for a prompt whose turn is running, as client.cancel_request does.
  do
    local mark = #notifications
    local turn = send('session/prompt', { sessionId = child_id, parts = text(words(200)) })
    local first = first_update(child_id, mark)
    local notified = first and rpc.notify('$/cancelRequest', { id = turn.id }) or false
    local answer = await(turn)
    emit('cancel', {
      streaming = first ~= nil, cancel_sent = notified, prompt = answer, notifications = since(mark),
    })
    call_step('cancel_messages', 'message/list', { sessionId = child_id })
  end

  local share = call_step('share', 'session/share', { sessionId = root_id, expiresInSeconds = 3600 })
  local secret = share.result and share.result.secret or 'missing'
  call_step('resolve', 'share/resolve', { secret = secret })

  local first_message = appended.result and appended.result.id or 'msg_missing'
  local fork = call_step('fork', 'session/fork', { sessionId = root_id, messageId = first_message })
  if fork.result then call_step('fork_messages', 'message/list', { sessionId = fork.result.id }) end

  call_step('bad_title', 'session/updateTitle', { sessionId = root_id, title = '   ' })
  call_step('bad_session_id', 'session/get', { sessionId = '../../etc/passwd' })
  call_step('bad_limit', 'session/list', { limit = 'ten' })
  call_step('bad_part', 'message/append', {
    sessionId = root_id, role = 'user', parts = { { type = 'video', uri = 'x' } },
  })

  call_step('missing_session', 'session/get', { sessionId = 'session_0000000000001' })
  call_step('missing_message', 'message/get', {
    sessionId = root_id, messageId = 'msg_00000000000000000000000000000000',
  })
  call_step('missing_share', 'share/resolve', { secret = 'not-a-share' })
  call_step('missing_method', 'session/explode', { sessionId = root_id })

  call_step('delete', 'session/delete', { sessionId = root_id })
  call_step('deleted_get', 'session/get', { sessionId = root_id })
  call_step('deleted_list', 'session/list', { rootsOnly = false })

  -- shutdown and exit, as Neovim's client.stop() sends them: no params at all.
  call_step('shutdown', 'shutdown', nil)
  call_step('after_shutdown', 'session/list', { limit = 1 })
  local exit_sent = rpc.notify('exit')
  vim.wait(wait_ms, function() return exited ~= nil end, 5)
  emit('exit', { exit_sent = exit_sent, exited = exited ~= nil, code = exited and exited.code,
                 signal = exited and exited.signal })
end

local ok, failure = xpcall(scenario, debug.traceback)
-- A sidecar that did not exit (the scenario stopped early, or exit failed) is killed.
if rpc ~= nil and exited == nil then pcall(function() rpc.handle:kill(9) end) end
if ok then
  emit('done', { rpc_errors = rpc_errors })
else
  emit('crashed', { error = tostring(failure), rpc_errors = rpc_errors })
end
out:close()
vim.cmd('qall!')
