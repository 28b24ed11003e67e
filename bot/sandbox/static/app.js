// The tagwire sandbox page: a Telegram-like chat driven by server-sent events.
// Every text from the bot or a reader becomes DOM text nodes; nothing is ever parsed as HTML.
"use strict";

(() => {
  const LOG_LIMIT = 500;
  const TOAST_MS = 2600;
  const AVATAR_COLOURS = 7;
  const EXAMPLES = [
    {
      slug: "tokyo-driverless-metro",
      title: "Tokyo opens its first driverless metro line",
      teaser:
        "Trains without a driver now run every three minutes between Shinjuku and the bay, " +
        "a first for the city's underground…",
      tags: "Japan, Tokyo, Transport",
    },
    {
      slug: "kuril-islands-talks-resume",
      title: "Kuril Islands talks resume in Moscow",
      teaser:
        "Japanese and Russian diplomats met for the first time in two years to discuss the " +
        "islands both countries claim…",
      tags: "Japan, Russia, Kuril Islands",
      // Served by the sandbox itself, so the page shows it without any network.
      picture: "harbour.svg",
    },
    {
      slug: "kyoto-cherry-blossom-early",
      title: "Cherry blossom arrives early in Kyoto",
      teaser:
        "Kyoto's cherry trees flowered eleven days earlier than the average of the last " +
        "century, the weather agency said…",
      tags: "Japan, Kyoto, Climate",
    },
  ];

  const state = {
    bot: { name: "Tagwire", username: "" },
    chats: [],
    commands: [],
    messages: new Map(), // chat id -> Map(message id -> message view)
    current: null,
    actingUser: new Map(), // chat id -> the member who types there
    unread: new Map(),
    faults: { flood_limits: false, unreachable: [] },
    example: 0,
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ------------------------------------------------------------------ server

  async function post(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, error: "the sandbox is not reachable" };
    }
    try {
      return await response.json();
    } catch (error) {
      return { ok: false, error: `the sandbox answered ${response.status}` };
    }
  }

  function connect() {
    const source = new EventSource("/events");
    source.onopen = () => setConnection("live", "live");
    source.onerror = () => setConnection("reconnecting", "reconnecting…");
    source.onmessage = (event) => handle(JSON.parse(event.data));
  }

  function setConnection(stateName, label) {
    const node = $("connection");
    node.dataset.state = stateName;
    node.textContent = label;
  }

  function handle(event) {
    switch (event.type) {
      case "snapshot":
        loadSnapshot(event);
        break;
      case "message":
        addMessage(event.message);
        break;
      case "edit":
        editMessage(event.message);
        break;
      case "delete":
        deleteMessage(event.chat_id, event.message_id);
        break;
      case "toast":
        if (event.chat_id === null || event.chat_id === state.current) {
          if (event.alert) showAlert(event.text);
          else showToast(event.text);
        }
        break;
      case "log":
        addLog(event, true);
        break;
      case "commands":
        state.commands = event.commands;
        renderCommandMenu();
        break;
      case "faults":
        state.faults = { flood_limits: event.flood_limits, unreachable: event.unreachable };
        renderFaults();
        break;
      default:
        break;
    }
  }

  function loadSnapshot(snapshot) {
    state.bot = snapshot.bot;
    state.chats = snapshot.chats;
    state.commands = snapshot.commands;
    state.faults = snapshot.faults;
    state.unread = new Map();
    state.messages = new Map();
    for (const [chatId, list] of Object.entries(snapshot.messages)) {
      const messages = new Map();
      for (const message of list) messages.set(message.message_id, message);
      state.messages.set(Number(chatId), messages);
    }
    for (const chat of state.chats) {
      if (!state.actingUser.has(chat.id)) state.actingUser.set(chat.id, chat.members[0].id);
    }
    if (!state.chats.some((chat) => chat.id === state.current)) {
      state.current = state.chats.length ? state.chats[0].id : null;
    }
    $("log").replaceChildren();
    for (const entry of snapshot.log) addLog(entry, false);
    renderChatList();
    renderChat();
    renderCommandMenu();
    renderFaults();
  }

  // ------------------------------------------------------------------ chats

  function chatById(chatId) {
    return state.chats.find((chat) => chat.id === chatId);
  }

  function messagesOf(chatId) {
    if (!state.messages.has(chatId)) state.messages.set(chatId, new Map());
    return state.messages.get(chatId);
  }

  function avatar(title, index, extraClass) {
    const node = el("div", `avatar c${index % AVATAR_COLOURS}${extraClass ? " " + extraClass : ""}`);
    node.textContent = (title || "?").slice(0, 1).toUpperCase();
    return node;
  }

  function previewOf(chat, message) {
    if (!message) return chat.kind === "group" ? "group with the bot" : "private chat with the bot";
    const firstLine = message.text.split("\n").find((line) => line.trim()) || "";
    if (message.from_bot) return firstLine;
    return `${message.from_name}: ${firstLine}`;
  }

  function renderChatList() {
    const list = $("chat-list");
    list.replaceChildren();
    state.chats.forEach((chat, index) => {
      const messages = [...messagesOf(chat.id).values()];
      const last = messages[messages.length - 1];
      const item = el("button", "chat-item");
      item.type = "button";
      item.dataset.chatId = String(chat.id);
      if (chat.id === state.current) item.classList.add("active");
      item.append(avatar(chat.title, index + 1));
      const body = el("div", "chat-item-body");
      const top = el("div", "chat-item-top");
      top.append(el("span", "chat-item-name", chat.title));
      if (chat.kind === "group") top.append(el("span", "chat-item-kind", "group"));
      top.append(el("span", "chat-item-time", last ? timeOf(last.date) : ""));
      const bottom = el("div", "chat-item-bottom");
      bottom.append(el("span", "chat-item-preview", previewOf(chat, last)));
      const unread = state.unread.get(chat.id) || 0;
      if (unread) bottom.append(el("span", "badge", unread));
      body.append(top, bottom);
      item.append(body);
      item.addEventListener("click", () => selectChat(chat.id));
      list.append(item);
    });
  }

  function selectChat(chatId) {
    state.current = chatId;
    state.unread.delete(chatId);
    hideCommandMenu();
    renderChatList();
    renderChat();
    renderFaults();
    $("composer-input").focus();
  }

  function actingUserOf(chat) {
    return state.actingUser.get(chat.id) || chat.members[0].id;
  }

  function renderChat() {
    const chat = chatById(state.current);
    const container = $("messages");
    container.replaceChildren();
    if (!chat) return;
    const index = state.chats.indexOf(chat);
    const headAvatar = $("chat-avatar");
    const select = $("as-member");
    if (chat.kind === "group") {
      headAvatar.replaceWith(avatarWithId(chat.title, index + 1));
      $("chat-name").textContent = chat.title;
      const names = chat.members.map((m) => (m.admin ? `${m.name} (admin)` : m.name));
      $("chat-subtitle").textContent =
        `group · ${chat.members.length + 1} members: ${names.join(", ")}, ${state.bot.name}`;
      select.replaceChildren();
      for (const member of chat.members) {
        const option = el("option", null, member.admin ? `${member.name} (admin)` : member.name);
        option.value = String(member.id);
        option.selected = member.id === actingUserOf(chat);
        select.append(option);
      }
      $("as-member-label").hidden = false;
    } else {
      headAvatar.replaceWith(avatarWithId(state.bot.name, 0, "bot"));
      $("chat-name").textContent = state.bot.name;
      $("chat-subtitle").textContent = `bot · @${state.bot.username} · you are ${chat.title}`;
      $("as-member-label").hidden = true;
    }
    for (const message of messagesOf(chat.id).values()) container.append(messageNode(chat, message));
    if (!container.childElementCount) container.append(emptyChatHint(chat));
    scrollToEnd(true);
  }

  function emptyChatHint(chat) {
    const hint = el("div", "empty-hint");
    hint.append(el("div", "empty-title", "No messages here yet"));
    const steps =
      chat.kind === "group"
        ? [
            "Write as Alice (an admin) or Bob (not one):",
            "only admins may change what a group follows.",
          ]
        : ["Send /start, or pick a command from Menu.", "Then push a story from the operator panel."];
    for (const step of steps) hint.append(el("div", null, step));
    return hint;
  }

  function avatarWithId(title, index, extraClass) {
    const node = avatar(title, index, extraClass);
    node.id = "chat-avatar";
    return node;
  }

  // Whether the reader sees the end of the conversation, i.e. has not scrolled up to read
  // older messages. Asked before a message is added: after it, a long answer (/help) puts
  // the end far below even when the reader was following along.
  function atEnd() {
    const container = $("messages");
    return container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  }

  // As Telegram does: keep the newest message in view unless the reader has scrolled up;
  // `follow` is what atEnd() said before the change (or true to scroll regardless).
  function scrollToEnd(follow) {
    const container = $("messages");
    if (follow) container.scrollTop = container.scrollHeight;
  }

  function timeOf(unixSeconds) {
    if (!unixSeconds) return "";
    return new Date(unixSeconds * 1000).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
  }

  function messageNode(chat, message) {
    const outgoing = !message.from_bot && message.from_id === actingUserOf(chat);
    const node = el("div", `msg ${message.from_bot ? "bot" : "user"} ${outgoing ? "out" : "in"}`);
    node.dataset.messageId = String(message.message_id);
    node.dataset.chatId = String(message.chat_id);
    const bubble = el("div", "bubble");
    if (chat.kind === "group" && !outgoing) {
      bubble.append(el("div", `sender c${senderColour(chat, message)}`, message.from_name));
    }
    if (message.photo || message.picture) bubble.append(pictureNode(message));
    const text = el("div", "text");
    text.append(renderEntities(message.text, message.entities));
    bubble.append(text);
    const meta = el("span", "meta");
    if (message.edited) meta.append(el("span", "edited", "edited"));
    meta.append(el("span", "time", timeOf(message.date)));
    bubble.append(meta);
    node.append(bubble);
    if (message.keyboard && message.keyboard.length) node.append(keyboardNode(chat, message));
    return node;
  }

  // A photo, or a large link preview above the text: the picture when the page can load it,
  // else a frame that says what Telegram would show there.
  function pictureNode(message) {
    const frame = el("div", `picture ${message.photo ? "photo" : "preview"}`);
    const url = message.picture ? safeUrl(message.picture) : null;
    const missing = () =>
      el("span", "picture-missing", url ? `🖼 ${new URL(url).host}` : "🖼 a photo");
    if (!url) {
      frame.append(missing());
      return frame;
    }
    const image = document.createElement("img");
    image.alt = "";
    image.loading = "lazy";
    image.referrerPolicy = "no-referrer";
    image.addEventListener("error", () => frame.replaceChildren(missing()));
    image.src = url;
    frame.append(image);
    return frame;
  }

  function senderColour(chat, message) {
    if (message.from_bot) return 0;
    const index = chat.members.findIndex((member) => member.id === message.from_id);
    return (index + 3) % AVATAR_COLOURS;
  }

  function keyboardNode(chat, message) {
    const keyboard = el("div", "keyboard");
    for (const row of message.keyboard) {
      const rowNode = el("div", "kb-row");
      for (const button of row) {
        const buttonNode = el("button", "kb-button", button.text);
        buttonNode.type = "button";
        if (typeof button.callback_data === "string") {
          buttonNode.dataset.callback = button.callback_data;
          buttonNode.addEventListener("click", () => pressButton(chat, message, button, buttonNode));
        } else if (typeof button.url === "string" && safeUrl(button.url)) {
          buttonNode.classList.add("url");
          buttonNode.addEventListener("click", () =>
            window.open(safeUrl(button.url), "_blank", "noopener,noreferrer"),
          );
        } else {
          buttonNode.disabled = true;
        }
        rowNode.append(buttonNode);
      }
      keyboard.append(rowNode);
    }
    return keyboard;
  }

  async function pressButton(chat, message, button, node) {
    node.classList.add("pressed");
    setTimeout(() => node.classList.remove("pressed"), 700);
    const answer = await post("/api/press", {
      chat_id: chat.id,
      user_id: actingUserOf(chat),
      message_id: message.message_id,
      data: button.callback_data,
    });
    if (!answer.ok) showToast(answer.error);
  }

  function addMessage(message) {
    messagesOf(message.chat_id).set(message.message_id, message);
    const chat = chatById(message.chat_id);
    if (!chat) return;
    if (message.chat_id === state.current) {
      const own = !message.from_bot && message.from_id === actingUserOf(chat);
      const following = atEnd();
      const hint = $("messages").querySelector(".empty-hint");
      if (hint) hint.remove();
      $("messages").append(messageNode(chat, message));
      // The reader's own message always brings the end back into view, and so its answer.
      scrollToEnd(own || following);
    } else if (message.from_bot) {
      state.unread.set(message.chat_id, (state.unread.get(message.chat_id) || 0) + 1);
    }
    renderChatList();
  }

  function editMessage(message) {
    messagesOf(message.chat_id).set(message.message_id, message);
    const chat = chatById(message.chat_id);
    if (chat && message.chat_id === state.current) {
      const following = atEnd();
      const old = $("messages").querySelector(`.msg[data-message-id="${message.message_id}"]`);
      const node = messageNode(chat, message);
      if (old) old.replaceWith(node);
      else $("messages").append(node);
      scrollToEnd(following);
    }
    renderChatList();
  }

  function deleteMessage(chatId, messageId) {
    messagesOf(chatId).delete(messageId);
    if (chatId === state.current) {
      const old = $("messages").querySelector(`.msg[data-message-id="${messageId}"]`);
      if (old) old.remove();
    }
    renderChatList();
  }

  // ------------------------------------------------------------------ Telegram text

  // Telegram's entities count UTF-16 code units, as JavaScript strings do: offsets apply as is.
  function renderEntities(text, entities) {
    const fragment = document.createDocumentFragment();
    const sorted = (entities || [])
      .filter((e) => e.length > 0)
      .map((e) => ({ ...e, end: e.offset + e.length }))
      .sort((a, b) => a.offset - b.offset || b.end - a.end);
    build(fragment, text, sorted, 0, text.length);
    return fragment;
  }

  function build(parent, text, entities, start, end) {
    let position = start;
    let i = 0;
    while (i < entities.length) {
      const entity = entities[i];
      const from = Math.max(entity.offset, position);
      const to = Math.min(entity.end, end);
      let j = i + 1;
      const inner = [];
      while (j < entities.length && entities[j].offset < entity.end) {
        inner.push({ ...entities[j], end: Math.min(entities[j].end, to) });
        j += 1;
      }
      if (to > from) {
        if (from > position) parent.append(document.createTextNode(text.slice(position, from)));
        const node = entityNode(entity, text.slice(from, to));
        build(node, text, inner, from, to);
        parent.append(node);
        position = to;
      }
      i = j;
    }
    if (end > position) parent.append(document.createTextNode(text.slice(position, end)));
  }

  function safeUrl(raw, addScheme) {
    const candidate = addScheme && !/^[a-z][a-z0-9+.-]*:/i.test(raw) ? `http://${raw}` : raw;
    try {
      const url = new URL(candidate);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function link(href) {
    const node = el("a");
    node.href = href;
    node.target = "_blank";
    node.rel = "noopener noreferrer";
    return node;
  }

  function entityNode(entity, segment) {
    switch (entity.type) {
      case "bold":
        return el("b");
      case "italic":
        return el("i");
      case "underline":
        return el("u");
      case "strikethrough":
        return el("s");
      case "code":
        return el("code");
      case "pre":
        return el("pre");
      case "blockquote":
      case "expandable_blockquote":
        return el("blockquote");
      case "spoiler": {
        const node = el("span", "spoiler");
        node.title = "Tap to reveal";
        node.addEventListener("click", () => node.classList.add("revealed"));
        return node;
      }
      case "text_link": {
        const href = safeUrl(entity.url || "", false);
        return href ? link(href) : el("span", "link-like");
      }
      case "url": {
        const href = safeUrl(segment, true);
        return href ? link(href) : el("span", "link-like");
      }
      case "email":
        return el("span", "link-like");
      case "bot_command": {
        const node = el("span", "command");
        node.title = "Send this command";
        node.addEventListener("click", () => sendText(segment));
        return node;
      }
      case "hashtag":
      case "cashtag":
        return el("span", "hashtag");
      case "mention":
      case "text_mention":
        return el("span", "mention");
      default:
        return el("span");
    }
  }

  // ------------------------------------------------------------------ composing

  async function sendText(text) {
    const chat = chatById(state.current);
    if (!chat || !text.trim()) return false;
    const answer = await post("/api/send", {
      chat_id: chat.id,
      user_id: actingUserOf(chat),
      text,
    });
    if (!answer.ok) showToast(answer.error);
    return answer.ok;
  }

  function renderCommandMenu() {
    const menu = $("command-menu");
    const typed = $("composer-input").value;
    const filter = typed.startsWith("/") ? typed.slice(1).toLowerCase() : "";
    menu.replaceChildren();
    for (const command of state.commands) {
      if (filter && !command.command.startsWith(filter)) continue;
      const item = el("button", "command-item");
      item.type = "button";
      item.setAttribute("role", "option");
      item.dataset.command = command.command;
      item.append(el("span", "command-name", `/${command.command}`));
      item.append(el("span", "command-description", command.description));
      item.addEventListener("click", async () => {
        hideCommandMenu();
        $("composer-input").value = "";
        await sendText(`/${command.command}`);
        $("composer-input").focus();
      });
      menu.append(item);
    }
    if (!menu.childElementCount) menu.hidden = true;
  }

  function showCommandMenu() {
    renderCommandMenu();
    $("command-menu").hidden = $("command-menu").childElementCount === 0;
  }

  function hideCommandMenu() {
    $("command-menu").hidden = true;
  }

  function setUpComposer() {
    const input = $("composer-input");
    $("composer").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      hideCommandMenu();
      input.value = "";
      if (!(await sendText(text))) input.value = text;
    });
    $("menu-button").addEventListener("click", () => {
      if ($("command-menu").hidden) {
        input.value = input.value.startsWith("/") ? input.value : "";
        showCommandMenu();
      } else {
        hideCommandMenu();
      }
      input.focus();
    });
    input.addEventListener("input", () => {
      if (/^\/\w*$/.test(input.value)) showCommandMenu();
      else hideCommandMenu();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") hideCommandMenu();
    });
    $("as-member").addEventListener("change", (event) => {
      const chat = chatById(state.current);
      if (!chat) return;
      state.actingUser.set(chat.id, Number(event.target.value));
      renderChat();
    });
  }

  // ------------------------------------------------------------------ toasts and alerts

  function showToast(text) {
    const toast = el("div", "toast", text);
    $("toasts").append(toast);
    setTimeout(() => toast.classList.add("leaving"), TOAST_MS);
    setTimeout(() => toast.remove(), TOAST_MS + 400);
  }

  function showAlert(text) {
    $("alert-text").textContent = text;
    $("alert").hidden = false;
    $("alert-ok").focus();
  }

  // ------------------------------------------------------------------ operator

  function fillExample() {
    const example = EXAMPLES[state.example % EXAMPLES.length];
    state.example += 1;
    const stamp = Date.now().toString(36);
    $("push-url").value = `https://news.example.com/sandbox/${example.slug}-${stamp}`;
    $("push-title").value = example.title;
    $("push-teaser").value = example.teaser;
    $("push-tags").value = example.tags;
    $("push-image").value = example.picture
      ? `${window.location.origin}/static/${example.picture}`
      : "";
  }

  function setUpOperator() {
    fillExample();
    $("push-example").addEventListener("click", fillExample);
    $("push-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("push-button");
      button.disabled = true;
      const answer = await post("/api/push", {
        url: $("push-url").value.trim(),
        title: $("push-title").value,
        teaser: $("push-teaser").value,
        tags: $("push-tags").value,
        image: $("push-image").value.trim(),
      });
      button.disabled = false;
      const results = $("push-results");
      results.replaceChildren();
      if (!answer.ok) {
        results.append(el("li", "result rejected", answer.error));
        return;
      }
      for (const result of answer.results) {
        const item = el("li", `result ${result.status}`);
        item.dataset.status = result.status;
        item.append(el("span", "result-status", result.status));
        item.append(el("span", "result-text", result.detail));
        results.append(item);
      }
    });
    $("flood-toggle").addEventListener("change", async (event) => {
      const answer = await post("/api/faults/flood", { on: event.target.checked });
      if (!answer.ok) showToast(answer.error);
    });
    $("block-toggle").addEventListener("change", async (event) => {
      const answer = await post("/api/faults/block", {
        chat_id: state.current,
        on: event.target.checked,
      });
      if (!answer.ok) showToast(answer.error);
    });
    $("next-429").addEventListener("click", async () => {
      const answer = await post("/api/faults/next-429", {});
      if (!answer.ok) showToast(answer.error);
    });
    $("log-clear").addEventListener("click", () => $("log").replaceChildren());
    $("alert-ok").addEventListener("click", () => {
      $("alert").hidden = true;
    });
  }

  function renderFaults() {
    $("flood-toggle").checked = Boolean(state.faults.flood_limits);
    const chat = chatById(state.current);
    const toggle = $("block-toggle");
    const label = $("block-label");
    label.replaceChildren();
    if (!chat) return;
    toggle.checked = state.faults.unreachable.includes(chat.id);
    const what =
      chat.kind === "group"
        ? `The bot was removed from ${chat.title}: sends answer `
        : `${chat.title} blocked the bot: sends answer `;
    label.append(document.createTextNode(what), el("b", null, "403"));
  }

  function statusClass(entry) {
    if (entry.source === "operator") return "by-operator";
    if (entry.status === 200) return "ok";
    if (entry.status === 429) return "limited";
    return "failed";
  }

  function statusLabel(entry) {
    if (entry.source === "operator") return "operator";
    return entry.status === 0 ? "dropped" : String(entry.status);
  }

  function addLog(entry, live) {
    const item = el("li", `log-entry ${statusClass(entry)}`);
    item.dataset.method = entry.method;
    if (entry.status !== null) item.dataset.status = String(entry.status);
    const head = el("div", "log-head");
    const when = new Date(entry.at * 1000).toLocaleTimeString([], { hour12: false });
    head.append(el("span", "log-time", when));
    head.append(el("span", "log-method", entry.method));
    if (entry.chat) head.append(el("span", "log-chat", `→ ${entry.chat}`));
    head.append(el("span", "log-status", statusLabel(entry)));
    item.append(head);
    // A failed call leads with Telegram's answer; the operator's own lines end with the outcome.
    const details =
      entry.source === "operator"
        ? [entry.summary, entry.outcome]
        : [entry.status === 200 ? "" : entry.outcome, entry.summary];
    const summary = details.filter(Boolean).join(" · ");
    if (summary) item.append(el("div", "log-summary", summary));
    const log = $("log");
    log.prepend(item);
    while (log.childElementCount > LOG_LIMIT) log.lastElementChild.remove();
    if (live) item.classList.add("fresh");
  }

  // ------------------------------------------------------------------ start

  document.addEventListener("DOMContentLoaded", () => {
    setUpComposer();
    setUpOperator();
    connect();
  });
})();
