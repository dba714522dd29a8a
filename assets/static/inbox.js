// The inbox, enhanced: Enter sends a reply (Shift+Enter is a new line), a saved reply goes into the reply
// box where the cursor is, and the page follows the inbox's changes live (Server-Sent Events from
// /inbox/events): a new message or an unread count refreshes the list, and a message or a status tick of
// the open conversation refreshes its thread, all without reloading the page. Without JavaScript the
// forms post and the "Reload" link reads the page again. Emoji come from the system's own picker.
"use strict";

(() => {
  const inbox = document.getElementById("inbox");
  if (!inbox) {
    return;
  }
  const current = inbox.dataset.conversation || "";
  const reply = document.querySelector("textarea[data-enter-sends]");

  if (reply) {
    // The key hint and the emoji picker need this script: shown only with it.
    for (const id of ["reply-keys", "emoji-picker"]) {
      const shown = document.getElementById(id);
      if (shown) {
        shown.hidden = false;
      }
    }
    reply.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) {
        return;
      }
      event.preventDefault();
      if (reply.value.trim() !== "") {
        reply.form.requestSubmit();
      }
    });
  }

  // A saved reply goes into the reply box, at the cursor.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-insert]");
    if (!link || !reply) {
      return;
    }
    event.preventDefault();
    const text = link.dataset.insert;
    const start = reply.selectionStart ?? reply.value.length;
    const end = reply.selectionEnd ?? start;
    reply.setRangeText(text, start, end, "end");
    reply.focus();
    const picker = link.closest("details");
    if (picker) {
      picker.open = false;
    }
  });

  if (!("EventSource" in window) || !window.fetch || !window.DOMParser) {
    return;
  }

  const liveState = document.getElementById("live-state");
  const reloadLink = document.getElementById("reload-link");
  const showLive = (live) => {
    if (liveState) {
      liveState.hidden = !live;
    }
    if (reloadLink) {
      reloadLink.hidden = live;
    }
  };

  // Reads this page again and puts in its list (and, when asked, its thread and window) in place of ours.
  let loading = false;
  let queued = null; // null: nothing waiting; false: the list; true: the list and the thread
  const swap = (doc, id) => {
    const ours = document.getElementById(id);
    const theirs = doc.getElementById(id);
    if (ours && theirs) {
      ours.innerHTML = theirs.innerHTML;
      ours.className = theirs.className;
    }
  };
  const load = async (thread) => {
    const response = await fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) {
      return;
    }
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    swap(doc, "conv-list");
    if (thread) {
      const atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
      swap(doc, "thread-wrap");
      swap(doc, "window");
      const last = document.querySelector("#thread > li:last-child");
      if (atEnd && last) {
        last.scrollIntoView({ block: "nearest" });
      }
    }
  };
  const refresh = async (thread) => {
    if (loading) {
      queued = queued === true || thread;
      return;
    }
    loading = true;
    try {
      await load(thread);
    } catch (error) {
      // The next change or the reconnection reads the page again.
    } finally {
      loading = false;
    }
    if (queued !== null) {
      const next = queued;
      queued = null;
      refresh(next);
    }
  };

  const ours = (data) => current !== "" && data.conversation === current;
  let connected = false;
  let source = null;
  const connect = () => {
    source = new EventSource("/inbox/events");
    source.addEventListener("ready", () => {
      showLive(true);
      // Changes made while the stream was down are read now.
      if (connected) {
        refresh(current !== "");
      }
      connected = true;
    });
    source.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      refresh(ours(data));
    });
    source.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      const shown = current !== "" && document.querySelector(`#thread [data-message="${CSS.escape(data.message)}"]`);
      if (ours(data) || shown) {
        refresh(true);
      }
    });
    source.addEventListener("unread", (event) => {
      const data = JSON.parse(event.data);
      if (!ours(data)) {
        refresh(false);
      }
    });
    source.addEventListener("reload", () => refresh(current !== ""));
    source.addEventListener("error", () => {
      showLive(false);
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        window.setTimeout(connect, 5000);
      }
    });
  };
  connect();
  window.addEventListener("pagehide", () => source && source.close());
})();
