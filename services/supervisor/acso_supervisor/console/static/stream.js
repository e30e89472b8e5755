// The live event stream (`GET /v1/stream`): one WebSocket, reconnected with backoff, fanned out
// to the pages. The token goes in the `bearer, <token>` subprotocol pair, never in the URL, except
// for API Gateway's WebSocket API (`stream_url`, in AWS), which authorises $connect on `?token=`.

import { currentSession } from "./api.js";

class Stream {
  constructor() {
    this.socket = null;
    this.listeners = new Set();
    this.backoff = 500;
    this.wanted = false;
    this.timer = null;
  }

  url() {
    const configured = currentSession().config.stream_url;
    if (configured) return configured;
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`;
  }

  start() {
    this.wanted = true;
    if (this.socket) return;
    const tokens = currentSession().tokens;
    if (!tokens) return;
    const gateway = currentSession().config.stream_url;
    const socket = gateway
      ? new WebSocket(`${gateway}?${new URLSearchParams({ token: tokens.access_token })}`)
      : new WebSocket(this.url(), ["bearer", tokens.access_token]);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.backoff = 500;
      document.body.dataset.stream = "open";
      this.emit({ kind: "stream.open", data: {} });
    });
    socket.addEventListener("message", (message) => {
      try {
        this.emit(JSON.parse(message.data));
      } catch {
        // not an event
      }
    });
    socket.addEventListener("close", () => {
      this.socket = null;
      document.body.dataset.stream = "closed";
      if (!this.wanted) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.start(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    });
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  emit(event) {
    for (const listener of this.listeners) listener(event);
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const stream = new Stream();

export function incidentOf(event) {
  return (event && event.data && event.data.incident_id) || null;
}
