// The public market page: a snapshot over REST, then live updates over the WebSocket.
// Every update names the seq of the previous one on its channel; a mismatch means a
// missed message, and the page subscribes again (which sends a fresh snapshot).
"use strict";
const Market = (() => {
  const fmt = (n) => (n === null || n === undefined ? "" : n.toLocaleString("en-US"));
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const status = (text, live) => {
    const s = document.getElementById("status");
    s.textContent = text;
    s.classList.toggle("live", !!live);
  };

  function connect(onOpen, onMessage) {
    let delay = 500;
    const open = () => {
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/marketdata/stream`);
      ws.onopen = () => { delay = 500; status("live", true); onOpen(ws); };
      ws.onmessage = (event) => onMessage(ws, JSON.parse(event.data));
      ws.onclose = () => { status("reconnecting"); setTimeout(open, delay); delay = Math.min(delay * 2, 10000); };
    };
    open();
  }

  function tracker() {
    // Per channel and symbol, the seq of the last message seen.
    const last = new Map();
    return {
      accept(msg) {
        const key = `${msg.channel}:${msg.symbol}`;
        if (msg.type === "snapshot") { last.set(key, msg.seq); return true; }
        if (msg.type !== "update") return false;
        if (last.get(key) !== msg.prevSeq) return false;
        last.set(key, msg.seq);
        return true;
      },
    };
  }

  function resubscribe(ws, msg) {
    ws.send(JSON.stringify({ op: "unsubscribe", channel: msg.channel, symbols: [msg.symbol] }));
    ws.send(JSON.stringify({ op: "subscribe", channel: msg.channel, symbols: [msg.symbol] }));
  }

  async function summaryPage(tbody) {
    const rows = new Map();
    const response = await fetch("/v1/marketdata/summary");
    const summary = await response.json();
    for (const s of summary.symbols) {
      const tr = el("tr");
      tr.id = `row-${s.symbol}`;
      const link = el("a", null, s.symbol);
      link.href = `/symbol/${encodeURIComponent(s.symbol)}`;
      const cells = {};
      const first = el("td"); first.appendChild(link); tr.appendChild(first);
      tr.appendChild(el("td", null, s.name));
      for (const name of ["last", "change", "bid", "bidQuantity", "ask", "askQuantity", "volume", "high", "low"]) {
        cells[name] = el("td", `n ${name}`);
        tr.appendChild(cells[name]);
      }
      tbody.appendChild(tr);
      rows.set(s.symbol, { tr, cells, data: s });
      paint(rows.get(s.symbol));
    }
    const symbols = [...rows.keys()];
    const seen = tracker();
    connect(
      (ws) => {
        ws.send(JSON.stringify({ op: "subscribe", channel: "l1", symbols }));
        ws.send(JSON.stringify({ op: "subscribe", channel: "trades", symbols }));
      },
      (ws, msg) => {
        if (msg.type === "error") return;
        if (!seen.accept(msg)) { resubscribe(ws, msg); return; }
        const row = rows.get(msg.symbol);
        if (!row) return;
        if (msg.channel === "l1") {
          const d = msg.data;
          Object.assign(row.data, {
            bid: d.bid ? d.bid.price : null, bidQuantity: d.bid ? d.bid.quantity : 0,
            ask: d.ask ? d.ask.price : null, askQuantity: d.ask ? d.ask.quantity : 0,
            last: d.last, referencePrice: d.referencePrice,
          });
        } else if (msg.channel === "trades" && msg.type === "update") {
          for (const t of msg.data) {
            row.data.volume += t.quantity;
            row.data.high = row.data.high === null ? t.price : Math.max(row.data.high, t.price);
            row.data.low = row.data.low === null ? t.price : Math.min(row.data.low, t.price);
          }
          if (msg.data.length) row.data.last = msg.data[0].price;
        }
        paint(row);
      },
    );
  }

  function paint(row) {
    const d = row.data;
    const change = d.last ? d.last - d.referencePrice : 0;
    row.cells.last.textContent = fmt(d.last);
    row.cells.change.textContent = d.last ? `${change > 0 ? "+" : ""}${fmt(change)} (${(change * 100 / d.referencePrice).toFixed(2)}%)` : "";
    row.cells.change.className = `n change ${change > 0 ? "up" : change < 0 ? "down" : ""}`;
    for (const name of ["bid", "ask", "volume", "high", "low"]) {
      row.cells[name].textContent = fmt(d[name]);
    }
    row.cells.bidQuantity.textContent = d.bid === null ? "" : fmt(d.bidQuantity);
    row.cells.askQuantity.textContent = d.ask === null ? "" : fmt(d.askQuantity);
    row.tr.classList.remove("flash"); void row.tr.offsetWidth; row.tr.classList.add("flash");
  }

  function symbolPage(symbol) {
    document.getElementById("symbol").textContent = symbol;
    document.title = `Exchange - ${symbol}`;
    const book = { bids: new Map(), asks: new Map() };
    let trades = [];
    const seen = tracker();
    connect(
      (ws) => {
        ws.send(JSON.stringify({ op: "subscribe", channel: "l2", symbols: [symbol] }));
        ws.send(JSON.stringify({ op: "subscribe", channel: "trades", symbols: [symbol] }));
      },
      (ws, msg) => {
        if (msg.type === "error") return;
        if (!seen.accept(msg)) { resubscribe(ws, msg); return; }
        if (msg.channel === "l2") {
          if (msg.type === "snapshot") { book.bids.clear(); book.asks.clear(); }
          for (const side of ["bids", "asks"]) {
            for (const level of msg.data[side]) {
              if (level.quantity === 0) book[side].delete(level.price);
              else book[side].set(level.price, level);
            }
          }
          ladder(book);
        } else if (msg.channel === "trades") {
          const list = msg.type === "snapshot" ? msg.data.trades : msg.data;
          trades = (msg.type === "snapshot" ? list : list.concat(trades)).slice(0, 50);
          tape(trades);
        }
      },
    );
  }

  function ladder(book) {
    const tbody = document.querySelector("#ladder tbody");
    const asks = [...book.asks.values()].sort((a, b) => a.price - b.price).slice(0, 15).reverse();
    const bids = [...book.bids.values()].sort((a, b) => b.price - a.price).slice(0, 15);
    tbody.replaceChildren();
    for (const a of asks) {
      const tr = el("tr", "ask-row");
      tr.append(el("td"), el("td"), el("td", "n ask", fmt(a.price)), el("td", "n", fmt(a.quantity)), el("td", "n", fmt(a.orders)));
      tbody.appendChild(tr);
    }
    for (const b of bids) {
      const tr = el("tr", "bid-row");
      tr.append(el("td", "n", fmt(b.orders)), el("td", "n", fmt(b.quantity)), el("td", "n bid", fmt(b.price)), el("td"), el("td"));
      tbody.appendChild(tr);
    }
  }

  function tape(list) {
    const tbody = document.querySelector("#trades tbody");
    tbody.replaceChildren();
    for (const t of list) {
      const tr = el("tr", "trade");
      tr.dataset.id = t.id;
      tr.append(el("td", null, new Date(t.time).toLocaleTimeString()), el("td", `n ${t.side === "buy" ? "bid" : "ask"}`, fmt(t.price)), el("td", "n", fmt(t.quantity)), el("td", null, t.side));
      tbody.appendChild(tr);
    }
  }

  return { summaryPage, symbolPage };
})();
