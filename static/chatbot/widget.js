/*
 * ShopOps chat widget. Embed with ONE tag, no build step:
 *
 *   <script src="https://YOUR-SHOP/static/chatbot/widget.js" defer></script>
 *
 * Optional attributes on that tag: data-title="Shop assistant", data-open="true".
 * It loads widget.css from beside itself and talks to wss://YOUR-SHOP/ws/chat/ (protocol in
 * chatbot/consumers.py). The conversation token is kept in localStorage so the history survives
 * page loads; a dropped connection is retried with exponential backoff.
 *
 * Security: every piece of text from the customer, the bot or staff is inserted with
 * textContent (never innerHTML), and links/images from cards must be http(s) URLs.
 */
(function () {
  "use strict";
  if (window.ShopOpsChat) return;  // included twice: keep the first
  var script = document.currentScript || document.querySelector("script[src*='chatbot/widget.js']");
  var scriptUrl = new URL(script.src, location.href);
  var wsUrl = (scriptUrl.protocol === "https:" ? "wss://" : "ws://") + scriptUrl.host + "/ws/chat/";
  var TOKEN_KEY = "shopops-chat-token:" + scriptUrl.host;
  var OPEN_KEY = "shopops-chat-open:" + scriptUrl.host;
  // Same-origin pages first make sure the visitor has a session cookie (a websocket handshake
  // cannot set one), so the conversation can be resumed on the next page load.
  var SESSION_URL = scriptUrl.origin === location.origin ? new URL("/api/chat/session/", scriptUrl).href : null;
  var TITLE = script.dataset.title || "Shop assistant";
  var MAX_CHARS = 1000;
  var TYPING_TIMEOUT_MS = 15000;

  var socket = null, connected = false, retries = 0, reconnectTimer = null, typingTimer = null;
  var started = false, mode = "bot";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      var url = new URL(value, scriptUrl);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function storage(key, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(key);
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (error) {
      return null;  // storage disabled (private mode): the chat still works for this page
    }
    return null;
  }

  // --- DOM ------------------------------------------------------------------------------------
  function bubbleIcon() {
    // Drawn, not an emoji: a page without an emoji font would show an empty box.
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("widget.css", scriptUrl).href;
  document.head.appendChild(css);

  var host = el("div", "shopops-chat");
  host.setAttribute("data-shopops-chat", "");
  var launcher = el("button", "shopops-chat-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(bubbleIcon());
  launcher.appendChild(el("span", "shopops-chat-launcher-text", "Chat"));

  var panel = el("section", "shopops-chat-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", TITLE);
  panel.hidden = true;
  var header = el("header", "shopops-chat-header");
  var headText = el("div");
  headText.appendChild(el("div", "shopops-chat-title", TITLE));
  var statusLine = el("div", "shopops-chat-status", "connecting…");
  headText.appendChild(statusLine);
  var closeButton = el("button", "shopops-chat-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  header.appendChild(headText);
  header.appendChild(closeButton);

  var log = el("ol", "shopops-chat-log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "shopops-chat-typing");
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.hidden = true;
  var quickReplies = el("div", "shopops-chat-quick");
  var form = el("form", "shopops-chat-form");
  var input = el("input", "shopops-chat-input");
  input.type = "text";
  input.maxLength = MAX_CHARS;
  input.placeholder = "Ask about products, orders, delivery…";
  input.setAttribute("aria-label", "Your message");
  input.autocomplete = "off";
  var sendButton = el("button", "shopops-chat-send", "Send");
  sendButton.type = "submit";
  form.appendChild(input);
  form.appendChild(sendButton);

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(quickReplies);
  panel.appendChild(form);
  host.appendChild(panel);
  host.appendChild(launcher);
  document.body.appendChild(host);

  // --- rendering ------------------------------------------------------------------------------
  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
    scrollDown();
  }

  function formatPrice(price, currency) {
    var amount = Number(price);
    if (!isFinite(amount)) return "";
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, {
        style: "currency", currency: currency || "EUR",
      }).format(amount);
    } catch (error) {
      return amount.toFixed(2) + (currency ? " " + currency : "");
    }
  }

  function renderCard(card) {
    var href = safeUrl(card.url);
    var node = el(href ? "a" : "div", "shopops-chat-card");
    if (href) {
      node.href = href;
      if (scriptUrl.host !== location.host) node.target = "_blank";
      node.rel = "noopener";
    }
    var image = safeUrl(card.image_url);
    if (image) {
      var img = el("img");
      img.src = image;
      img.alt = "";
      img.loading = "lazy";
      node.appendChild(img);
    } else {
      node.appendChild(el("div", "shopops-chat-card-noimg", String(card.name || "?").charAt(0).toUpperCase()));
    }
    var body = el("div", "shopops-chat-card-body");
    body.appendChild(el("div", "shopops-chat-card-name", card.name));
    body.appendChild(el("div", "shopops-chat-card-price", formatPrice(card.price, card.currency)));
    if (card.reason) body.appendChild(el("div", "shopops-chat-card-reason", card.reason));
    if (card.in_stock === false) body.appendChild(el("div", "shopops-chat-card-stock", "Out of stock"));
    node.appendChild(body);
    return node;
  }

  function renderQuickReplies(replies) {
    quickReplies.replaceChildren();
    (replies || []).forEach(function (reply) {
      var button = el("button", "shopops-chat-quick-button", reply.label || reply.text);
      button.type = "button";
      button.addEventListener("click", function () { sendText(reply.text || reply.label); });
      quickReplies.appendChild(button);
    });
  }

  function renderMessage(message, options) {
    var sender = message.sender || "system";
    var item = el("li", "shopops-chat-msg shopops-chat-" + sender);
    if (message.id != null) item.dataset.messageId = message.id;
    if (sender === "staff") item.appendChild(el("div", "shopops-chat-from", message.staff_name || "Shop staff"));
    if (message.text) item.appendChild(el("div", "shopops-chat-text", message.text));
    var order = message.order;
    if (order && typeof order === "object") {
      var summary = el("div", "shopops-chat-order");
      ["number", "status", "total", "placed_at"].forEach(function (key) {
        if (order[key] !== undefined && order[key] !== null) summary.appendChild(el("div", null, key.replace("_", " ") + ": " + order[key]));
      });
      item.appendChild(summary);
    }
    if (message.cards && message.cards.length) {
      item.classList.add("shopops-chat-has-cards");
      var cards = el("div", "shopops-chat-cards");
      message.cards.forEach(function (card) { cards.appendChild(renderCard(card)); });
      item.appendChild(cards);
    }
    log.appendChild(item);
    if (!options || !options.history) renderQuickReplies(message.quick_replies);
    scrollDown();
    return item;
  }

  function renderNote(text, className) {
    var item = el("li", "shopops-chat-msg shopops-chat-note " + (className || ""), text);
    log.appendChild(item);
    scrollDown();
  }

  function setStatus() {
    statusLine.textContent = !connected
      ? (retries ? "reconnecting…" : "connecting…")
      : mode === "human" ? "you are talking to our staff"
      : mode === "waiting" ? "waiting for a person from our team"
      : "online";
    sendButton.disabled = !connected;
  }

  // --- connection -----------------------------------------------------------------------------
  function send(frame) {
    if (!connected) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function sendText(text) {
    text = (text || "").trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      renderNote("Messages are limited to " + MAX_CHARS + " characters.", "shopops-chat-error");
      return;
    }
    if (!send({ type: "message", text: text })) {
      renderNote("Not connected yet; please try again in a moment.", "shopops-chat-error");
      return;
    }
    renderQuickReplies([]);
    renderMessage({ sender: "customer", text: text }, { history: true }).classList.add("shopops-chat-pending");
  }

  function onFrame(frame) {
    if (frame.type === "welcome") {
      if (frame.token) storage(TOKEN_KEY, frame.token);
      mode = frame.mode || "bot";
      log.replaceChildren();
      var history = frame.history || [];
      history.forEach(function (message) { renderMessage(message, { history: true }); });
      var last = history[history.length - 1];
      renderQuickReplies(last && last.sender === "bot" ? last.quick_replies : []);
      if (!history.length) renderNote("Hi! Ask me about products, prices, your order or delivery. 你好，也可以用中文问我。");
      setStatus();
    } else if (frame.type === "typing") {
      showTyping(true);
    } else if (frame.type === "sent") {
      var pending = log.querySelector(".shopops-chat-pending");
      if (pending) {
        pending.classList.remove("shopops-chat-pending");
        if (frame.message && frame.message.id != null) pending.dataset.messageId = frame.message.id;
      }
    } else if (frame.type === "message" && frame.message) {
      showTyping(false);
      renderMessage(frame.message);
    } else if (frame.type === "mode") {
      mode = frame.mode;
      setStatus();
    } else if (frame.type === "error") {
      showTyping(false);
      var failed = log.querySelector(".shopops-chat-pending");
      if (failed) {
        failed.classList.remove("shopops-chat-pending");
        failed.classList.add("shopops-chat-failed");
      }
      renderNote(frame.message || "Something went wrong.", "shopops-chat-error");
    }
  }

  function connect() {
    clearTimeout(reconnectTimer);
    socket = new WebSocket(wsUrl);
    socket.addEventListener("open", function () {
      connected = true;
      retries = 0;
      socket.send(JSON.stringify({ type: "hello", token: storage(TOKEN_KEY) }));
      setStatus();
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      onFrame(frame);
    });
    socket.addEventListener("close", function () {
      connected = false;
      showTyping(false);
      // Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
      var delay = Math.min(15000, 500 * Math.pow(2, retries)) * (0.75 + Math.random() * 0.5);
      retries += 1;
      setStatus();
      reconnectTimer = setTimeout(connect, delay);
    });
  }

  function setOpen(open) {
    panel.hidden = !open;
    host.classList.toggle("shopops-chat-is-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    storage(OPEN_KEY, open ? "1" : null);
    if (open) {
      if (!started) {
        started = true;
        setStatus();
        if (SESSION_URL) {
          fetch(SESSION_URL, { credentials: "same-origin" }).catch(function () {}).then(connect);
        } else {
          connect();
        }
      }
      input.focus();
      scrollDown();
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    sendText(text);
  });

  window.ShopOpsChat = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    // For tests and the embedding page: drop the socket to exercise the reconnect path.
    disconnect: function () { if (socket) socket.close(); },
  };
  if (storage(OPEN_KEY) === "1" || script.dataset.open === "true") setOpen(true);
})();
