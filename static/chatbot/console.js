// Live chat console: talks to /ws/chat/staff/ (chatbot/consumers.py StaffConsoleConsumer).
// Every customer- or bot-written string goes into the page through textContent, never HTML.
(function () {
  "use strict";
  var root = document.querySelector("[data-console]");
  if (!root) return;
  var $ = function (name) { return document.querySelector("[data-" + name + "]"); };
  var list = $("live-list"), empty = $("live-empty"), transcript = $("transcript");
  var title = $("chat-title"), modeBadge = $("chat-mode"), errorBox = $("console-error");
  var takeOver = $("take-over"), handBack = $("hand-back"), statusText = $("console-status");
  var form = $("reply-form"), input = $("reply-input"), send = $("reply-send");
  var MODE_LABELS = { bot: "bot answers", waiting: "waiting for staff", human: "staff answering", closed: "closed" };
  var socket = null, openId = null, openMode = null, retries = 0, live = [];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function timeOf(iso) {
    var date = iso ? new Date(iso) : null;
    return date && !isNaN(date) ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function setMode(mode) {
    openMode = mode;
    modeBadge.hidden = !mode;
    modeBadge.textContent = MODE_LABELS[mode] || mode || "";
    modeBadge.className = "badge mode-" + (mode || "");
    var human = mode === "human";
    takeOver.disabled = !openId || human;
    handBack.disabled = !openId || mode === "bot";
    input.disabled = send.disabled = !human;
    input.placeholder = human ? "Write a reply to the customer" : "Take the conversation over to reply";
  }

  function renderLive() {
    list.replaceChildren();
    empty.hidden = live.length > 0;
    live.forEach(function (c) {
      var item = el("li");
      item.dataset.conversationId = c.id;
      if (c.id === openId) item.classList.add("current");
      var who = el("div", "who");
      who.appendChild(el("span", null, c.customer_name || c.customer || ("Visitor #" + c.id)));
      who.appendChild(el("span", "badge mode-" + c.mode, MODE_LABELS[c.mode] || c.mode));
      item.appendChild(who);
      var last = c.last_message && typeof c.last_message === "object" ? c.last_message.text : c.last_message;
      item.appendChild(el("div", "preview", last || c.handoff_reason || ""));
      item.appendChild(el("div", "preview", (c.message_count || 0) + " messages · " + timeOf(c.last_message_at)));
      item.addEventListener("click", function () { openConversation(c.id); });
      list.appendChild(item);
      if (c.id === openId && c.mode !== openMode) setMode(c.mode);
    });
  }

  function addMessage(message) {
    var sender = message.sender || "system";
    var item = el("li", sender, message.text);
    var meta = sender === "customer" ? "customer" : sender === "staff" ? "staff" : sender;
    if (message.intent) meta += " · " + message.intent + (message.confidence != null ? " " + Number(message.confidence).toFixed(2) : "");
    (message.cards || []).forEach(function (card) { meta += " · card: " + card.name; });
    item.appendChild(el("span", "meta", meta + " · " + timeOf(message.created_at)));
    transcript.appendChild(item);
    transcript.scrollTop = transcript.scrollHeight;
  }

  function openConversation(id) {
    openId = id;
    title.textContent = "Conversation #" + id;
    transcript.replaceChildren();
    showError("");
    var entry = live.filter(function (c) { return c.id === id; })[0];
    setMode(entry ? entry.mode : null);
    renderLive();
    sendFrame({ type: "open", conversation_id: id });
  }

  function sendFrame(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    else showError("Not connected; retrying…");
  }

  function onFrame(frame) {
    if (frame.type === "live") {
      live = frame.conversations || [];
      renderLive();
    } else if (frame.type === "history" && frame.conversation_id === openId) {
      transcript.replaceChildren();
      (frame.messages || []).forEach(addMessage);
    } else if (frame.type === "message" && frame.conversation_id === openId) {
      addMessage(frame.message);
    } else if (frame.type === "mode" && frame.conversation_id === openId) {
      setMode(frame.mode);
    } else if (frame.type === "error") {
      showError(frame.message);
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.wsPath);
    socket.addEventListener("open", function () {
      retries = 0;
      statusText.textContent = "connected";
      showError("");
      if (openId) sendFrame({ type: "open", conversation_id: openId });
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      onFrame(frame);
    });
    socket.addEventListener("close", function () {
      statusText.textContent = "disconnected, reconnecting…";
      var delay = Math.min(30000, 500 * Math.pow(2, retries++));
      setTimeout(connect, delay);
    });
  }

  takeOver.addEventListener("click", function () { sendFrame({ type: "take_over", conversation_id: openId }); });
  handBack.addEventListener("click", function () { sendFrame({ type: "hand_back", conversation_id: openId }); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || !openId) return;
    sendFrame({ type: "reply", conversation_id: openId, text: text });
    input.value = "";
  });
  setMode(null);
  connect();
})();
