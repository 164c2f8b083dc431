// Tutti's User Interface: every change goes through the JSON API (/lui/api), so pages and
// scripts share one set of rules. Forms carry data-api="METHOD /path"; their fields become
// the JSON body (or, with data-file, the chosen file is the body and the fields the query).
"use strict";

// A page the browser restores from its back/forward cache shows what was true when it was
// left (an old subject, old progress): load it again. "no-store" keeps most browsers from
// keeping it; this covers those that keep it anyway.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) { location.reload(); }
});

const csrf = () => document.querySelector("meta[name=csrf]")?.content || "";

async function api(method, path, body, contentType) {
  const headers = { "x-csrf-token": csrf() };
  let payload;
  if (contentType) {
    headers["content-type"] = contentType;
    payload = body;
  } else if (body !== undefined && method !== "GET" && method !== "DELETE") {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  let data = null;
  try { data = await r.json(); } catch (_) { /* an empty answer */ }
  if (r.status === 401 && !path.endsWith("/session")) { location.href = "/lui/login"; }
  if (!r.ok) {
    const problems = data?.problems?.map((p) => `${p.source}, line ${p.line}, column ${p.column}: ${p.message}`) || [];
    throw new Error([(data && data.error) || `${r.status} ${r.statusText}`, ...problems].join("\n"));
  }
  return data;
}

// The form's fields as JSON: checkboxes with data-bool are true/false, data-number numbers,
// data-list one value per line, data-time an ISO time; data-untracked boxes collect the
// unticked ones into "untracked"; empty optional fields are left out.
function formJson(form) {
  const out = {};
  const untracked = [];
  let hasUntracked = false;
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === "file") continue;
    if ("untracked" in el.dataset) { hasUntracked = true; if (!el.checked) untracked.push(el.value); continue; }
    if ("bool" in el.dataset) { out[el.name] = el.checked; continue; }
    const v = el.value;
    if ("list" in el.dataset) { out[el.name] = v.split(/[\n,;]/).map((s) => s.trim()).filter(Boolean); continue; }
    if ("number" in el.dataset) { out[el.name] = Number(v); continue; }
    if ("time" in el.dataset) { if (v) out[el.name] = new Date(v).toISOString(); continue; }
    out[el.name] = v;
  }
  if (hasUntracked) out.untracked = untracked;
  return out;
}

function showError(form, message) {
  const box = form.querySelector(".error");
  if (box) { box.textContent = message; box.hidden = false; } else { alert(message); }
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const spec = form.dataset.api;
  if (!spec) return;
  event.preventDefault();
  const [method, template] = spec.split(" ");
  if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
  const busy = form.querySelector(".busy");
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  if (busy) busy.hidden = false;
  try {
    let data;
    if ("file" in form.dataset) {
      const file = form.querySelector("input[type=file]").files[0];
      if (!file) throw new Error("Choose a file first.");
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(formJson(form))) if (v !== "" && v !== undefined) query.set(k, String(v));
      query.set("file_name", file.name);
      const path = template.replace("{name}", encodeURIComponent(file.name));
      data = await api(method, `${path}?${query}`, file, file.type || "application/octet-stream");
    } else if ("grants" in form.dataset) {
      // One grant per member row that may at least see the job.
      const grants = [...form.querySelectorAll("[data-grant-account]")].map((row) => {
        const box = (what) => row.querySelector(`[data-grant=${what}]`).checked;
        return { account_id: Number(row.dataset.grantAccount), see: box("see"), edit: box("edit"), send: box("send") };
      }).filter((g) => g.see || g.edit || g.send).map(({ account_id, edit, send }) => ({ account_id, edit, send }));
      data = await api(method, template, grants);
    } else if (form.dataset.json) {
      data = await api(method, template, JSON.parse(form.dataset.json));
    } else {
      data = await api(method, template, { ...formJson(form), ...JSON.parse(form.dataset.extra || "{}") });
    }
    const next = form.dataset.next;
    // A form that says so (data-saved) confirms on the page shown again after the change.
    if (form.dataset.saved && form.id) sessionStorage.setItem("tutti-saved", JSON.stringify([form.id, form.dataset.saved]));
    if (next) location.href = next.replace("{id}", data?.id || "");
    else location.reload();
  } catch (err) {
    showError(form, err.message);
    buttons.forEach((b) => (b.disabled = false));
    if (busy) busy.hidden = true;
  }
});

// "Make text from HTML": the HTML's text, paragraphs kept, links written out.
document.addEventListener("click", (event) => {
  if (!event.target.matches("[data-text-from-html]")) return;
  const html = document.getElementById("html").value;
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll("a[href]").forEach((a) => a.append(` "${a.getAttribute("href")}"`));
  doc.querySelectorAll("br").forEach((br) => br.replaceWith("\n"));
  doc.querySelectorAll("p, div, h1, h2, h3, li, tr, table").forEach((b) => b.append("\n\n"));
  const text = (doc.body.textContent || "").replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
  document.getElementById("text").value = text + "\n";
});

// A list being imported: follow its counts, then show the page again.
for (const el of document.querySelectorAll("[data-import]")) {
  const tick = async () => {
    try {
      const list = await api("GET", el.dataset.import);
      document.getElementById("accepted-count").textContent = list.accepted;
      if (list.state !== "importing") { location.reload(); return; }
    } catch (_) { /* try again */ }
    setTimeout(tick, 700);
  };
  setTimeout(tick, 300);
}

// The progress bar of a job being sent.
for (const el of document.querySelectorAll("[data-progress]")) {
  const bar = el.querySelector("[role=progressbar]");
  const text = el.querySelector("#progress-text");
  const tick = async () => {
    try {
      const p = await api("GET", el.dataset.progress);
      const done = p.sent + p.failed + p.bounced;
      const percent = p.total > 0 ? Math.floor((100 * done) / p.total) : 0;
      bar.setAttribute("aria-valuenow", String(percent));
      bar.firstElementChild.style.width = `${percent}%`;
      const sent = p.to_outbox ? "written to the outbox" : "sent";
      text.textContent = `${percent} % · ${p.sent} ${sent}, ${p.deferred} deferred, ${p.failed} failed, ${p.bounced} bounced of ${p.total}` +
        (p.rate > 0 ? ` · ${p.rate.toFixed(1)} messages/s` : "") + (p.waiting ? ` · ${p.waiting}` : "") + ` · ${p.state}`;
      if (p.state === "completed" || p.state === "cancelled") {
        const state = document.getElementById("job-state");
        if (state && state.textContent === "ongoing") { location.reload(); return; }
        return;
      }
    } catch (err) { text.textContent = err.message; }
    setTimeout(tick, 1000);
  };
  tick();
}

// A sender profile fills the sender fields (saved with the message).
document.addEventListener("change", (event) => {
  if (!event.target.matches("[data-sender-profile]")) return;
  const chosen = event.target.selectedOptions[0];
  if (!chosen || !chosen.value) return;
  document.getElementById("from_name").value = chosen.dataset.fromName || "";
  document.getElementById("from_address").value = chosen.dataset.fromAddress || "";
  document.getElementById("reply_to").value = chosen.dataset.replyTo || "";
});

// The report's chart: opens and clicks over time, labelled in the reader's time zone. It
// reads well with an hour of data or months of it: the hours are summed into days (or
// weeks) when there are many, the bars share a fixed width, and labels are thinned out so
// that they never overlap.
const HOUR_MS = 3600 * 1000;
function chartBuckets(hours) {
  const first = Math.min(...hours.map((h) => h.start_ms));
  const last = Math.max(...hours.map((h) => h.start_ms));
  const span = last - first + HOUR_MS;
  const size = span <= 48 * HOUR_MS ? HOUR_MS : span <= 90 * 24 * HOUR_MS ? 24 * HOUR_MS : 7 * 24 * HOUR_MS;
  // Days and weeks start at the reader's midnight.
  const start = (ms) => {
    if (size === HOUR_MS) return ms - (ms % HOUR_MS);
    const d = new Date(ms);
    d.setHours(0, 0, 0, 0);
    if (size > 24 * HOUR_MS) d.setDate(d.getDate() - ((d.getDay() + 6) % 7));
    return d.getTime();
  };
  const buckets = new Map();
  // An hour past the next day or week still lands in it on days of 23 or 25 hours.
  const step = size === HOUR_MS ? size : size + HOUR_MS;
  for (let t = start(first); t <= last; t = start(t + step)) buckets.set(t, { start_ms: t, opens: 0, clicks: 0 });
  for (const h of hours) {
    const b = buckets.get(start(h.start_ms));
    if (b) { b.opens += h.opens; b.clicks += h.clicks; }
  }
  const unit = size === HOUR_MS ? "hour" : size === 24 * HOUR_MS ? "day" : "week";
  return { unit, buckets: [...buckets.values()] };
}

for (const el of document.querySelectorAll("#chart[data-hours]")) {
  const hours = JSON.parse(el.dataset.hours || "[]");
  if (hours.length === 0) continue;
  const { unit, buckets } = chartBuckets(hours);
  const max = Math.max(1, ...buckets.map((h) => Math.max(h.opens, h.clicks)));
  const height = 180, top = 20, left = 48, right = 16, width = 720;
  const plot = width - left - right;
  const slot = plot / buckets.length;
  const barWidth = Math.max(1, Math.min(24, (slot - 4) / 2));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 64}`);
  svg.setAttribute("width", "100%");
  svg.setAttribute("style", `max-width:${width}px`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Opens and clicks per ${unit}`);
  const add = (name, attrs, text) => {
    const node = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  add("line", { x1: left, y1: top + height, x2: width - right, y2: top + height, stroke: "#5b6475" });
  add("text", { x: left - 6, y: top + 4, "font-size": 11, "text-anchor": "end" }, String(max));
  add("text", { x: left - 6, y: top + height, "font-size": 11, "text-anchor": "end" }, "0");
  const format = unit === "hour"
    ? { month: "short", day: "numeric", hour: "2-digit" }
    : { month: "short", day: "numeric" };
  // About 90 px per label.
  const every = Math.max(1, Math.ceil(90 / slot));
  buckets.forEach((h, i) => {
    const x = left + i * slot + (slot - 2 * barWidth) / 2;
    const bar = (value, dx, color, what) => {
      const barHeight = (value / max) * height;
      add("rect", { x: x + dx, y: top + height - barHeight, width: barWidth, height: barHeight, fill: color, class: what })
        .append(Object.assign(document.createElementNS(ns, "title"), { textContent: `${value} ${what}` }));
    };
    bar(h.opens, 0, "#1f6f5c", "opens");
    bar(h.clicks, barWidth, "#d08a1e", "clicks");
    if (i % every === 0) {
      const label = new Date(h.start_ms).toLocaleString([], format);
      add("text", { x: left + i * slot + slot / 2, y: top + height + 14, "font-size": 10, "text-anchor": "middle" }, label);
    }
  });
  add("rect", { x: left, y: top + height + 32, width: 10, height: 10, fill: "#1f6f5c" });
  add("text", { x: left + 14, y: top + height + 41, "font-size": 11 }, "opens");
  add("rect", { x: left + 70, y: top + height + 32, width: 10, height: 10, fill: "#d08a1e" });
  add("text", { x: left + 84, y: top + height + 41, "font-size": 11 }, "clicks");
  add("text", { x: left + 150, y: top + height + 41, "font-size": 11 }, `per ${unit}`);
  el.replaceChildren(svg);
}

// The confirmation of a form saved before this page was shown again (data-saved).
{
  const saved = sessionStorage.getItem("tutti-saved");
  sessionStorage.removeItem("tutti-saved");
  const [id, text] = saved ? JSON.parse(saved) : [];
  const form = id && document.getElementById(id);
  if (form) {
    const note = document.createElement("p");
    note.className = "notice";
    note.setAttribute("role", "status");
    note.id = `${id}-saved`;
    note.textContent = text;
    form.prepend(note);
    note.scrollIntoView({ block: "center" });
  }
}
