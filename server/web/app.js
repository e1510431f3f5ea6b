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

async function send(text) {
  history.push({ role: "user", content: text });
  bubble("user", text);
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history);

  const out = bubble("assistant", "");
  out.classList.add("streaming");
  out.dataset.chunks = "0";
  controller = new AbortController();
  setBusy(true);
  const started = performance.now();
  let reply = "", usage = null, finish = "";
  try {
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
      }),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || res.statusText);
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
          if (choice.delta && choice.delta.content) {
            reply += choice.delta.content;
            out.append(choice.delta.content); // a text node per chunk: no re-layout of the whole reply
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
      bubble("error", String(err.message || err));
    }
  } finally {
    out.classList.remove("streaming");
    out.dataset.done = "true";
    if (reply) history.push({ role: "assistant", content: reply });
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
