// minimr dashboard: draws each page from the JSON under /api/ and polls it once a second.
// Plain DOM, no framework, no network but this server. Every text that comes from a job
// (names, keys, tracebacks, log lines) goes into the page as a text node, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const PAGE_SIZE = 100;
const CANVAS_FROM = 2000;  // attempts past which the timeline's bars go on a canvas
// what the timeline draws of each attempt: asked for alone, the answer is a fifth the size
const BAR_FIELDS = "?fields=attempt,worker,lane,kind,state,start,end,duration,backup,why";
// the timeline's colours (style.css names the same ones for the legend and badges)
const COLOR = {
  prepare: "#8a6cc8", map: "#3b82c4", reduce: "#2aa07a", commit: "#6c7a89",
  failed: "#d64545", lost: "#e08a1e", cancelled: "#a9b1bb",
};

// --- small helpers ------------------------------------------------------------------------

/** An element: h("td", {class: "num"}, "text", child...). Strings become text nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An SVG element with attributes. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function seconds(x) {
  if (x === null || x === undefined) return "–";
  if (x < 10) return x.toFixed(1) + " s";
  if (x < 120) return Math.round(x) + " s";
  if (x < 7200) return Math.floor(x / 60) + " min " + String(Math.round(x % 60)).padStart(2, "0") + " s";
  return Math.floor(x / 3600) + " h " + String(Math.floor((x % 3600) / 60)).padStart(2, "0") + " min";
}

function count(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function clock(wall) { return wall ? new Date(wall * 1000).toLocaleTimeString() : "–"; }
function badge(state) { return h("span", { class: "badge " + state }, state); }
function link(href, ...text) { return h("a", { href }, ...text); }
function jobHref(id, rest) { return "/jobs/" + encodeURIComponent(id) + (rest || ""); }
function logHref(jobId, attempt) { return jobHref(jobId, "/logs/" + encodeURIComponent(attempt)); }

function barWith(pct, run, done, total, empty) {
  const bar = h("div", { class: "bar" });
  const d = h("div", { class: "done" });
  const r = h("div", { class: "run" });
  // widths through the CSSOM: the page's policy allows no inline style attributes
  d.style.width = pct + "%";
  r.style.left = pct + "%";
  r.style.width = run + "%";
  bar.append(d, r, h("div", { class: "label" }, total ? count(done) + " / " + count(total) : empty || "–"));
  return bar;
}

function jobProgress(job) {
  const total = job.maps_total + job.reduces_total;
  const done = job.maps_done + job.reduces_done;
  const before = job.state === "queued" ? "queued" : (job.workers ? "planning" : "waiting for workers");
  return barWith(total ? (100 * done) / total : 0, total ? (100 * job.running) / total : 0,
    done, total, before);
}

function table(headers, rows, numeric) {
  const num = new Set(numeric || []);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { class: num.has(i) ? "num" : null }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: num.has(i) ? "num" : null }, c))))),
  );
}

function card(k, v) { return h("div", { class: "card" }, h("div", { class: "k" }, k), h("div", { class: "v" }, v)); }

// --- fetching and polling -------------------------------------------------------------------

let timer = null;
let lastOk = 0;

async function api(path) {
  const response = await fetch(path, { cache: "no-cache", credentials: "same-origin" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

/** Draw ``render(data)`` now and again whenever the data's version changes. */
function poll(paths, render, keepGoing) {
  let version = null;
  async function tick() {
    try {
      const data = await Promise.all(paths.map(api));
      lastOk = Date.now();
      const v = data.map((d) => d.version).join("/");
      if (v !== version) {
        version = v;
        render(...data);
      }
      liveLabel(data[0], keepGoing(...data));
      if (!keepGoing(...data)) return;
    } catch (err) {
      const page = document.getElementById("page");
      if (version === null) page.replaceChildren(h("p", { class: "failure" }, String(err.message || err)));
      liveLabel(null, true);
    }
    timer = setTimeout(tick, POLL_MS);
  }
  tick();
}

function liveLabel(data, live) {
  const el = document.getElementById("live");
  const stale = Date.now() - lastOk > 5000;
  el.className = "live" + (stale ? " stale" : "");
  if (stale) el.textContent = "no answer from the coordinator";
  else if (data) el.textContent = (live ? "live · " : "") + "as of " + clock(data.time);
}

function crumbs(...parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  for (const p of parts) {
    nav.append(h("span", { class: "sep" }, "/"), p);
  }
}

function page(...children) {
  document.getElementById("page").replaceChildren(...children.filter((c) => c !== null && c !== undefined));
}

// --- the cluster page ------------------------------------------------------------------------

function clusterPage() {
  crumbs(link("/", "cluster"));
  poll(["/api/cluster"], (c) => {
    const running = c.jobs.filter((j) => j.state === "running").length;
    const queued = c.jobs.filter((j) => j.state === "queued").length;
    const slots = c.workers.reduce((n, w) => n + w.slots, 0);
    const busy = c.workers.reduce((n, w) => n + w.running.length, 0);
    page(
      h("h1", {}, c.embedded ? "Embedded cluster" : "Cluster"),
      h("div", { class: "cards" },
        card("workers", count(c.workers.length)), card("slots busy", busy + " / " + slots),
        card("jobs running", count(running)), card("jobs queued", count(queued)),
        card("jobs kept", count(c.jobs.length))),
      h("h2", {}, "Workers"),
      c.workers.length ? table(
        ["worker", "host", "slots", "running attempts", "tasks done", "last heartbeat", "shuffle served", "up for"],
        c.workers.map((w) => [
          w.name, w.host, count(w.slots),
          w.running.length ? h("span", { class: "mono small" }, w.running.join(", ")) : h("span", { class: "muted" }, "idle"),
          count(w.tasks_done), seconds(w.last_heartbeat) + " ago",
          w.shuffle_served === undefined ? "–" : bytes(w.shuffle_served), seconds(w.uptime),
        ]), [2, 4, 5, 6, 7]) : h("p", { class: "muted" }, "No worker has joined yet: start one with `minimr worker --coordinator ADDRESS`."),
      h("h2", {}, "Jobs"),
      c.jobs.length ? table(
        ["job", "name", "state", "progress", "step", "workers", "elapsed"],
        c.jobs.slice().reverse().map((j) => [
          link(jobHref(j.job_id), h("span", { class: "mono" }, j.job_id)), j.name, badge(j.state),
          jobProgress(j), (j.step + 1) + " / " + j.steps, count(j.workers), seconds(j.elapsed),
        ]), [5, 6]) : h("p", { class: "muted" }, "No job yet."),
    );
  }, () => true);
}

// --- a job's pages -----------------------------------------------------------------------------

function tabs(id, on) {
  const t = (name, rest) => h("a", { href: jobHref(id, rest), class: on === name ? "on" : null }, name);
  return h("div", { class: "tabs" }, t("overview", ""), t("tasks", "/tasks"), t("timeline", "/timeline"));
}

function jobHeader(job) {
  const running = job.state === "running" || job.state === "queued";
  const head = h("div", { class: "row" },
    h("h1", {}, job.name), badge(job.state),
    h("span", { class: "mono muted" }, job.job_id));
  if (running) {
    const button = h("button", { id: "cancel", title: "Cancel this job on the cluster" }, "cancel job");
    button.addEventListener("click", () => cancelJob(job.job_id, button));
    head.append(button);
  }
  const current = (job.phases || []).find((p) => p.done < p.total && p.started !== null);
  // a map-only step (no reduce tasks) has no reduce phase to count
  const mine = (job.phases || []).filter((p) => p.step === job.step);
  const mapOnly = mine.some((p) => p.kind === "map") && !mine.some((p) => p.kind === "reduce");
  return h("div", {}, head, h("div", { class: "cards" },
    card("elapsed", seconds(job.elapsed)),
    card("ETA", isOver(job) ? "done" : current && current.eta !== null ? seconds(current.eta) + " (" + current.kind + ")" : "–"),
    card("step", (job.step + 1) + " / " + job.steps),
    card("maps", count(job.maps_done) + " / " + count(job.maps_total)),
    card("reduces", mapOnly ? "none (map-only step)"
      : count(job.reduces_done) + " / " + count(job.reduces_total)),
    card("running", count(job.running)),
    card("workers", count(job.workers)),
    card("skipped records", count(job.skipped))));
}

async function cancelJob(id, button) {
  if (!confirm("Cancel job " + id + "? Its running attempts stop and its output is removed.")) return;
  button.disabled = true;
  const response = await fetch("/api/jobs/" + encodeURIComponent(id) + "/cancel",
    { method: "POST", credentials: "same-origin", headers: { "X-Minimr": "cancel" } });
  const body = await response.json();
  button.textContent = response.ok ? "cancelling…" : (body.error || "refused");
}

function phasesTable(job) {
  return table(["step", "phase", "progress", "running", "pending", "waiting", "failed attempts", "records", "bytes", "ETA"],
    (job.phases || []).map((p) => [
      String(p.step + 1), p.kind,
      barWith(p.total ? (100 * p.done) / p.total : 0, p.total ? (100 * p.running) / p.total : 0, p.done, p.total),
      count(p.running), count(p.pending), count(p.waiting), count(p.failed_attempts),
      count(p.counters["map input records"] ?? p.counters["reduce output records"]),
      bytes(p.counters["map input bytes"] ?? p.counters["reduce output bytes"]),
      p.done === p.total ? "done" : seconds(p.eta),
    ]), [3, 4, 5, 6, 7, 8, 9]);
}

function failureBlock(job) {
  const e = job.error;
  if (!e) return null;
  const parts = [h("h2", {}, job.state === "cancelled" ? "Cancelled" : "Why it failed"),
    h("div", { class: "failure" }, h("p", {}, e.message))];
  if (e.task) {
    parts.push(h("p", {}, "task ", h("span", { class: "mono" }, e.task), " · ", e.kind || "",
      " · ran on ", (e.workers || []).join(", ")));
  }
  if (e.traceback) parts.push(h("pre", { class: "traceback" }, e.traceback));
  if (e.stderr) parts.push(h("p", { class: "muted" }, "stderr of the last attempt (tail):"), h("pre", {}, e.stderr));
  if (e.replay) parts.push(h("p", {}, "Replay this task in one local process (add --pdb to stop in the debugger):"),
    h("pre", { class: "replay" }, e.replay));
  return h("div", {}, parts);
}

function countersTable(counters) {
  const rows = [];
  for (const [group, names] of Object.entries(counters || {})) {
    for (const [name, value] of Object.entries(names)) rows.push([group, name, count(value)]);
  }
  return rows.length ? table(["group", "counter", "value"], rows, [2]) : h("p", { class: "muted" }, "No task has finished yet.");
}

function notesBlock(job) {
  const notes = job.notes || [];
  if (!notes.length) return null;
  return h("div", {}, h("h2", {}, "What happened"),
    notes.slice().reverse().map((n) => h("div", { class: "note" }, h("span", { class: "muted" }, "+" + seconds(n.at) + "  "), n.text)));
}

function jobPage(id) {
  crumbs(link("/", "cluster"), link(jobHref(id), h("span", { class: "mono" }, id)));
  const holder = h("div", { class: "gantt", id: "timeline" });
  poll(["/api/jobs/" + encodeURIComponent(id), "/api/jobs/" + encodeURIComponent(id) + "/attempts" + BAR_FIELDS], (job, at) => {
    page(jobHeader(job), tabs(id, "overview"),
      h("h2", {}, "Phases"), phasesTable(job),
      failureBlock(job),
      h("h2", {}, "Timeline ", h("span", { class: "muted small" }, "(one bar per attempt, a row per worker slot)")),
      legend(), holder,
      notesBlock(job),
      h("h2", {}, "Counters"), countersTable(job.counters));
    drawTimeline(holder, at, job);
  }, (job) => !isOver(job));
}

function isOver(job) { return ["succeeded", "failed", "cancelled"].includes(job.state); }

function tasksPage(id) {
  crumbs(link("/", "cluster"), link(jobHref(id), h("span", { class: "mono" }, id)), link(jobHref(id, "/tasks"), "tasks"));
  const params = new URLSearchParams(location.search);
  let offset = Number(params.get("offset") || 0);
  const state = params.get("state") || "";
  poll(["/api/jobs/" + encodeURIComponent(id),
    "/api/jobs/" + encodeURIComponent(id) + "/attempts?offset=" + offset + "&limit=" + PAGE_SIZE + (state ? "&state=" + encodeURIComponent(state) : "")],
  (job, at) => {
    const filter = h("select", { id: "state-filter" },
      ["", "running", "succeeded", "failed", "cancelled", "lost"].map((x) =>
        h("option", { value: x, selected: x === state }, x || "every state")));
    filter.addEventListener("change", () => {
      const q = new URLSearchParams();
      if (filter.value) q.set("state", filter.value);
      location.search = q.toString();
    });
    const go = (o) => { const q = new URLSearchParams(location.search); q.set("offset", String(o)); location.search = q.toString(); };
    const pager = h("div", { class: "pager" }, filter,
      h("span", { class: "muted" }, at.total ? (at.offset + 1) + "–" + Math.min(at.offset + PAGE_SIZE, at.total) + " of " + count(at.total) + " attempts" : "no attempt"),
      h("button", { class: "plain", disabled: at.offset === 0, onclick: () => go(Math.max(0, offset - PAGE_SIZE)) }, "‹ previous"),
      h("button", { class: "plain", disabled: at.offset + PAGE_SIZE >= at.total, onclick: () => go(offset + PAGE_SIZE) }, "next ›"));
    page(jobHeader(job), tabs(id, "tasks"), pager,
      table(["attempt", "kind", "worker", "slot", "start", "duration", "state", "input", "records", "bytes", "log"],
        at.attempts.map((a) => {
          const c = a.counters || {};
          return [
            h("span", { class: "mono" }, a.attempt, a.backup ? " (backup)" : ""), a.kind,
            a.worker, String(a.lane), "+" + seconds(a.start), seconds(a.duration),
            h("span", {}, badge(a.state), a.why ? h("div", { class: "small muted" }, a.why) : null),
            h("span", { class: "small" }, a.input),
            count(c["map input records"] ?? c["reduce input records"]),
            bytes(c["map input bytes"] ?? c["reduce output bytes"]),
            link(logHref(id, a.attempt), "log"),
          ];
        }), [4, 5, 8, 9]));
  }, (job) => !isOver(job));
}

function timelinePage(id) {
  crumbs(link("/", "cluster"), link(jobHref(id), h("span", { class: "mono" }, id)), link(jobHref(id, "/timeline"), "timeline"));
  const holder = h("div", { class: "gantt", id: "timeline" });
  poll(["/api/jobs/" + encodeURIComponent(id), "/api/jobs/" + encodeURIComponent(id) + "/attempts" + BAR_FIELDS], (job, at) => {
    page(jobHeader(job), tabs(id, "timeline"), legend(), holder);
    drawTimeline(holder, at, job, true);
  }, (job) => !isOver(job));
}

function logPage(id, attempt) {
  crumbs(link("/", "cluster"), link(jobHref(id), h("span", { class: "mono" }, id)),
    link(jobHref(id, "/tasks"), "tasks"), h("span", { class: "mono" }, attempt));
  poll(["/api/jobs/" + encodeURIComponent(id) + "/logs/" + encodeURIComponent(attempt)], (log) => {
    page(h("div", { class: "row" }, h("h1", {}, "Log of " + attempt), badge(log.state)),
      h("p", { class: "muted" }, log.kind + " on worker " + log.worker + " slot " + log.lane +
        ", from +" + seconds(log.start) + " for " + seconds(log.duration) +
        (log.backup ? " (a backup attempt)" : "") + " · " + log.input),
      log.why ? h("div", { class: log.state === "failed" ? "failure" : "note", id: "why" }, h("p", {}, log.why)) : null,
      log.text === null
        ? h("p", { class: "muted", id: "no-log" }, "No log to show: " + log.note + ".")
        : h("pre", { class: "log", id: "log" }, log.text === "" ? "(this attempt printed nothing)" : log.text));
  }, (log) => log.state === "running");
}

// --- the timeline (a Gantt chart of attempts per worker slot) ------------------------------------

function legend() {
  const item = (name, color, extra) => h("span", {}, colorChip(color, extra), name);
  return h("div", { class: "legend" },
    item("prepare", COLOR.prepare), item("map", COLOR.map), item("reduce", COLOR.reduce), item("commit", COLOR.commit),
    item("running (lighter)", COLOR.map, "running"), item("failed", COLOR.failed), item("lost with its worker", COLOR.lost),
    item("cancelled (overtaken, not needed)", COLOR.cancelled), item("backup attempt (dashed)", COLOR.map, "backup"));
}

function colorChip(color, extra) {
  const i = h("i", { class: extra || null });
  i.style.background = color;
  if (extra === "running") i.style.opacity = ".55";
  if (extra === "backup") i.style.outline = "1px dashed #1d232b";
  return i;
}

/** Draw every attempt as a bar on its worker slot's row, time across. */
function drawTimeline(holder, at, job, big) {
  const attempts = at.attempts;
  holder.replaceChildren();
  if (!attempts.length) { holder.append(h("p", { class: "muted small" }, "  No attempt has started yet.")); return; }
  const lanes = at.lanes.map((l) => l.worker + "#" + l.lane);
  const row = new Map(lanes.map((k, i) => [k, i]));
  const rowH = big ? 20 : Math.max(6, Math.min(20, Math.floor(300 / lanes.length)));
  const left = 130, right = 12, top = 4, axis = 20;
  const width = Math.max(600, (holder.clientWidth || 1000) - 4);
  const end = attempts.reduce((m, a) => Math.max(m, a.end ?? job.elapsed), job.elapsed);
  const x = (t) => left + ((width - left - right) * t) / (end || 1);
  const height = top + lanes.length * rowH + axis;
  const svg = s("svg", { width, height, role: "img", "aria-label": "timeline of " + attempts.length + " attempts" });
  for (let t of ticks(end)) {
    svg.append(s("line", { class: "grid", x1: x(t), x2: x(t), y1: top, y2: top + lanes.length * rowH }));
    svg.append(s("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, seconds(t)));
  }
  const labelEvery = Math.ceil(12 / rowH);
  lanes.forEach((k, i) => {
    if (i % labelEvery) return;
    const [w, n] = [at.lanes[i].worker, at.lanes[i].lane];
    svg.append(s("text", { class: "lane-label", x: 6, y: top + i * rowH + rowH * 0.75 }, w + " · slot " + n));
  });
  holder.append(svg);
  if (attempts.length > CANVAS_FROM) {
    drawBarsOnCanvas(holder, svg, attempts, { row, rowH, top, x, width, height, job });
    return;
  }
  const bars = s("g", { class: "bars" });
  for (const a of attempts) {
    const i = row.get(a.worker + "#" + a.lane);
    const x0 = x(a.start), x1 = x(a.end ?? job.elapsed);
    const rect = s("rect", {
      class: "a " + a.state + " " + a.kind + (a.backup ? " backup" : ""),
      x: x0, y: top + i * rowH + 1, width: Math.max(1, x1 - x0), height: rowH - 2,
      fill: barColor(a), "fill-opacity": a.state === "running" ? 0.55 : 1,
      "data-attempt": a.attempt,
    });
    rect.append(s("title", {}, describe(a)));
    const anchor = s("a", { href: logHref(job.job_id, a.attempt) });
    anchor.append(rect);
    bars.append(anchor);
  }
  svg.append(bars);
}

function barColor(a) { return COLOR[a.state] || COLOR[a.kind] || COLOR.map; }

function describe(a) {
  return a.attempt + " · " + a.kind + " · " + a.state + " on " + a.worker + " slot " + a.lane +
    " · +" + seconds(a.start) + " for " + seconds(a.duration) + (a.backup ? " · backup" : "") +
    (a.why ? "\n" + a.why : "");
}

/** Past CANVAS_FROM attempts, the bars go on a canvas under the SVG's axes and labels: one
 * drawing call per bar instead of a DOM node each, so a job of 10,000 attempts stays quick.
 * A click on a bar opens its log; hovering names it. */
function drawBarsOnCanvas(holder, svg, attempts, g) {
  const canvas = h("canvas", { class: "bars", "data-bars": attempts.length });
  const ratio = window.devicePixelRatio || 1;
  canvas.width = g.width * ratio;
  canvas.height = g.height * ratio;
  canvas.style.width = g.width + "px";
  canvas.style.height = g.height + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  const placed = [];
  for (const a of attempts) {
    const i = g.row.get(a.worker + "#" + a.lane);
    const x0 = g.x(a.start), w = Math.max(1, g.x(a.end ?? g.job.elapsed) - x0);
    const y = g.top + i * g.rowH + 1;
    ctx.globalAlpha = a.state === "running" ? 0.55 : 1;
    ctx.fillStyle = barColor(a);
    ctx.fillRect(x0, y, w, g.rowH - 2);
    if (a.backup) { ctx.globalAlpha = 1; ctx.setLineDash([3, 2]); ctx.strokeRect(x0, y, w, g.rowH - 2); }
    placed.push([x0, y, w, a]);
  }
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    const px = event.clientX - box.left, py = event.clientY - box.top;
    return placed.find(([x0, y, w]) => px >= x0 && px <= x0 + w && py >= y && py <= y + g.rowH - 2);
  };
  canvas.addEventListener("mousemove", (e) => { const hit = at(e); canvas.title = hit ? describe(hit[3]) : ""; });
  canvas.addEventListener("click", (e) => { const hit = at(e); if (hit) location.href = logHref(g.job.job_id, hit[3].attempt); });
  const stack = h("div", { class: "stack" });
  stack.append(svg, canvas);
  holder.replaceChildren(stack);
}

function ticks(end) {
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
  const step = steps.find((st) => end / st <= 10) || 7200;
  const out = [];
  for (let t = 0; t <= end + 1e-9; t += step) out.push(t);
  return out;
}

// --- the router ---------------------------------------------------------------------------------

function route() {
  const path = location.pathname.split("/").map(decodeURIComponent);
  if (path[1] === "jobs" && path[2]) {
    if (path[3] === "tasks") return tasksPage(path[2]);
    if (path[3] === "timeline") return timelinePage(path[2]);
    if (path[3] === "logs" && path[4]) return logPage(path[2], path[4]);
    return jobPage(path[2]);
  }
  return clusterPage();
}

route();
