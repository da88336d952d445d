// The Playground tab: a chat that calls the model API's real gateway endpoint from the
// browser. It is authenticated by the session cookie plus the CSRF token header (never an
// API key in the page), asks for `stream: true` and renders the server-sent events as
// they arrive (fetch + ReadableStream; EventSource cannot POST).
(function () {
  "use strict";

  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (error) {
      // fall through to the cookie
    }
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function init() {
    const form = document.getElementById("chat-form");
    if (!form) return;
    const log = document.getElementById("chat-log");
    const input = document.getElementById("chat-input");
    const send = document.getElementById("chat-send");
    const stop = document.getElementById("chat-stop");
    const clear = document.getElementById("chat-clear");
    const status = document.getElementById("chat-status");
    const messages = [];
    let controller = null;

    function addEntry(role, text) {
      const item = document.createElement("li");
      item.className = `chat-message chat-${role}`;
      const who = document.createElement("span");
      who.className = "chat-role";
      who.textContent = role === "user" ? "You" : role === "assistant" ? "Model" : "Error";
      const body = document.createElement("div");
      body.className = "chat-text";
      body.textContent = text;
      item.append(who, body);
      log.append(item);
      item.scrollIntoView({ block: "end" });
      return body;
    }

    function busy(on) {
      send.disabled = on;
      stop.hidden = !on;
      status.textContent = on ? "Answering…" : "";
    }

    async function errorMessage(response) {
      try {
        const body = await response.json();
        if (body.error && body.error.message) return body.error.message;
        if (body.message) return body.message;
      } catch (error) {
        // not JSON
      }
      return `The endpoint answered ${response.status}.`;
    }

    // Reads the SSE stream; calls onDelta(text) for each piece of the answer.
    async function readStream(response, onDelta) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let boundary;
        while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const rawEvent = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, "");
          const data = rawEvent
            .split(/\r?\n/)
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).replace(/^ /, ""))
            .join("\n");
          if (!data) continue;
          if (data === "[DONE]") return;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message || "The provider reported an error.");
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) onDelta(delta.content);
        }
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text || controller) return;
      input.value = "";
      messages.push({ role: "user", content: text });
      addEntry("user", text);
      const answer = addEntry("assistant", "");
      answer.classList.add("is-streaming");
      controller = new AbortController();
      busy(true);
      let answerText = "";
      try {
        const response = await fetch(form.dataset.chatPath, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "text/event-stream",
            "X-CSRFToken": csrfToken(),
          },
          body: JSON.stringify({ model: form.dataset.model, messages, stream: true }),
          signal: controller.signal,
        });
        if (!response.ok) throw new Error(await errorMessage(response));
        await readStream(response, (piece) => {
          answerText += piece;
          answer.textContent = answerText;
          answer.scrollIntoView({ block: "end" });
        });
        messages.push({ role: "assistant", content: answerText });
      } catch (error) {
        messages.pop(); // the question got no answer; do not send it again as history
        if (error.name === "AbortError") {
          answer.textContent = answerText + " [stopped]";
        } else {
          answer.parentElement.remove();
          addEntry("error", error.message);
        }
      } finally {
        answer.classList.remove("is-streaming");
        controller = null;
        busy(false);
        input.focus();
      }
    });

    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    stop.addEventListener("click", () => controller && controller.abort());
    clear.addEventListener("click", () => {
      messages.length = 0;
      log.replaceChildren();
      input.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
