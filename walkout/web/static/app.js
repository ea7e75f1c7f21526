// walkout serve: the token (from #token=... once, then kept for the tab), fetch helpers
"use strict";
const walkout = (() => {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("walkout-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  const token = sessionStorage.getItem("walkout-token");
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
  const headers = (extra) => Object.assign(token ? { Authorization: "Bearer " + token } : {}, extra || {});
  async function get(url) {
    const r = await fetch(url, { headers: headers() });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }
  async function post(url, data) {
    const r = await fetch(url, { method: "POST", body: JSON.stringify(data),
      headers: headers({ "Content-Type": "application/json", "X-CSRF-Token": csrf }) });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }
  function follow(onChange) {  // server-sent events: the ledger grew
    const es = new EventSource(withToken("/api/stream"));
    let pending = null;
    es.addEventListener("ledger", () => { clearTimeout(pending); pending = setTimeout(onChange, 150); });
    const live = document.getElementById("live");
    es.onopen = () => { if (live) live.textContent = "following the run"; };
    es.onerror = () => { if (live) live.textContent = "reconnecting..."; };
    return es;
  }
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const money = (v) => Number(v).toFixed(2);
  return { get, post, follow, withToken, esc, money, authHeaders: () => headers() };
})();
