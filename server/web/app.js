// MiniMind chat page: keeps the conversation, streams replies from
// /v1/chat/completions (server-sent events) and can stop a reply midway.
"use strict";

const $ = (id) => document.getElementById(id);
const conversation = $("conversation");
const history = []; // {role, content} of finished turns
let controller = null; // AbortController of the reply in flight

for (const [id, out] of [["temperature", "temperature-value"], ["top-p", "top-p-value"]]) {
  $(id).addEventListener("input", () => { $(out).textContent = $(id).value; });
}

function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  div.textContent = text;
  conversation.appendChild(div);
  conversation.scrollTop = conversation.scrollHeight;
  return div;
}

function setBusy(busy) {
  conversation.dataset.state = busy ? "streaming" : "idle";
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

// replyView builds an assistant bubble: a collapsed <details> for the
// thinking (reasoning_content), the answer, and the tool calls.
function replyView() {
  const out = bubble("assistant", "");
  const thinking = document.createElement("details");
  thinking.className = "thinking";
  thinking.hidden = true;
  const summary = document.createElement("summary");
  summary.textContent = "Thinking";
  const thought = document.createElement("div");
  thinking.append(summary, thought);
  const content = document.createElement("div");
  content.className = "content";
  const calls = document.createElement("div");
  calls.className = "tool-calls";
  out.append(thinking, content, calls);
  return { out, thinking, thought, content, calls };
}

// showCalls renders the tool calls: name(arguments), the arguments pretty
// printed when they are JSON.
function showCalls(view, calls) {
  view.calls.replaceChildren();
  for (const c of calls) {
    const div = document.createElement("div");
    div.className = "tool-call";
    const name = document.createElement("span");
    name.className = "tool-name";
    name.textContent = c.function.name;
    const args = document.createElement("pre");
    try { args.textContent = JSON.stringify(JSON.parse(c.function.arguments), null, 2); } catch { args.textContent = c.function.arguments; }
    div.append(name, args);
    view.calls.appendChild(div);
  }
}

async function send(text) {
  history.push({ role: "user", content: text });
  const asked = bubble("user", text);
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history);

  const view = replyView();
  const out = view.out;
  out.classList.add("streaming");
  out.dataset.chunks = "0";
  controller = new AbortController();
  setBusy(true);
  const started = performance.now();
  let reply = "", usage = null, finish = "", failed = false;
  const calls = []; // tool calls, rebuilt from their deltas by index
  try {
    let tools;
    const toolsText = $("tools").value.trim();
    if (toolsText) {
      try { tools = JSON.parse(toolsText); } catch (err) { throw new Error("Tools is not JSON: " + err.message); }
    }
    const headers = { "Content-Type": "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers["Authorization"] = "Bearer " + key;
    const res = await fetch("v1/chat/completions", {
      method: "POST", headers, signal: controller.signal,
      // No "model": the server then uses the one it serves, whatever
      // --model_name says (naming another is a 404).
      body: JSON.stringify({
        messages, stream: true, stream_options: { include_usage: true },
        temperature: Number($("temperature").value), top_p: Number($("top-p").value),
        max_tokens: Number($("max-tokens").value) || undefined,
        open_thinking: $("open-thinking").checked || undefined,
        tools,
      }),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(`${res.status}: ${(body.error && body.error.message) || res.statusText}`);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          const d = choice.delta || {};
          if (d.reasoning_content) {
            view.thinking.hidden = false;
            view.thought.append(d.reasoning_content);
          }
          if (d.content) {
            reply += d.content;
            view.content.append(d.content); // a text node per chunk: no re-layout of the whole reply
          }
          for (const tc of d.tool_calls || []) {
            const c = calls[tc.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } };
            if (tc.id) c.id = tc.id;
            if (tc.function && tc.function.name) c.function.name += tc.function.name;
            if (tc.function && tc.function.arguments) c.function.arguments += tc.function.arguments;
            showCalls(view, calls);
          }
          if (d.reasoning_content || d.content || d.tool_calls) {
            out.dataset.chunks = String(Number(out.dataset.chunks) + 1);
            conversation.scrollTop = conversation.scrollHeight;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
    }
    const secs = (performance.now() - started) / 1000;
    $("status").textContent = usage
      ? `${usage.completion_tokens} tokens, ${(usage.completion_tokens / secs).toFixed(1)} tokens/s (${finish})`
      : finish;
  } catch (err) {
    if (err.name === "AbortError") {
      $("status").textContent = "stopped";
    } else {
      failed = true;
      $("status").textContent = "error";
      bubble("error", String(err.message || err));
    }
  } finally {
    out.classList.remove("streaming");
    out.dataset.done = "true";
    if (failed || (!reply && calls.length === 0)) {
      // The turn failed (or was stopped before any answer): it leaves the
      // conversation, so the next request does not send two user turns
      // in a row. Its bubble stays, marked, and its text goes back to the
      // input box for another try.
      history.pop();
      asked.classList.add("failed");
      asked.title = "not answered; not part of the conversation";
      if (!$("input").value) $("input").value = text;
      if (out.dataset.chunks === "0") out.remove();
      else out.classList.add("failed");
    } else {
      const turn = { role: "assistant", content: reply };
      if (calls.length) turn.tool_calls = calls;
      history.push(turn);
    }
    controller = null;
    setBusy(false);
  }
}

$("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("input").value.trim();
  if (!text || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) {
    ev.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("reset").addEventListener("click", () => {
  if (controller) controller.abort();
  history.length = 0;
  conversation.replaceChildren();
  $("status").textContent = "";
});
