// The operators' page: polls /dashboard/data every 2 s and redraws. Plain DOM and inline
// SVG, no external fetch; text is always set with textContent (never parsed as HTML).
"use strict";

const DATA_URL = "/dashboard/data";
const POLL_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function bilingual(zh, en) {
  return [zh + " ", el("small", {}, en)];
}

function clock(value) {
  const when = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return when.toLocaleTimeString("zh-CN", { hour12: false });
}

function span(seconds) {
  const s = Math.abs(seconds);
  if (s < 90) return Math.round(s) + " 秒";
  if (s < 5400) return Math.round(s / 60) + " 分";
  if (s < 172800) return (s / 3600).toFixed(1) + " 时";
  return Math.round(s / 86400) + " 天";
}

function number(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function fill(tbody, rows, columns, emptyZh, emptyEn) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    tbody.append(el("tr", {}, el("td", { class: "empty", colspan: columns },
                                   ...bilingual(emptyZh, emptyEn))));
  }
  for (const row of rows) tbody.append(row);
}

function setText(id, text, alarm) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.classList.toggle("alarm", Boolean(alarm));
}

function sparkline(box, series) {
  const w = 420, h = 124, pad = 4, base = h - 16;
  const top = Math.max(1, ...series.map(p => Math.max(p.in, p.out)));
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img",
                             "aria-label": "events per second" });
  chart.append(svg("line", { x1: 0, y1: base, x2: w, y2: base, stroke: "#ccc" }));
  chart.append(svg("text", { x: 2, y: 12, "font-size": 10, fill: "#6b7785" },
                   number(top) + " /s"));
  if (series.length > 1) {
    chart.append(svg("text", { x: 2, y: h - 3, "font-size": 10, fill: "#6b7785" },
                     span(series[series.length - 1].at - series[0].at) + "前"));
    chart.append(svg("text", { x: w - 2, y: h - 3, "font-size": 10, fill: "#6b7785",
                               "text-anchor": "end" }, "现在 now"));
  }
  const step = series.length > 1 ? (w - 2 * pad) / (series.length - 1) : 0;
  for (const [key, colour] of [["in", "#1f77b4"], ["out", "#ff7f0e"]]) {
    const points = series.map((p, i) =>
      `${(pad + i * step).toFixed(1)},${(base - (p[key] / top) * (base - 16)).toFixed(1)}`);
    if (points.length > 0) {
      chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: colour,
                                     "stroke-width": 1.8 }));
    }
  }
  box.replaceChildren(chart);
}

function hbars(box, items, colour) {
  const w = 420, row = 20, label = 190;
  const top = Math.max(1, ...items.map(i => i.value));
  const chart = svg("svg", { viewBox: `0 0 ${w} ${Math.max(row, items.length * row)}` });
  items.forEach((item, i) => {
    const y = i * row;
    const g = svg("g", { "data-reason": item.label });
    g.append(svg("text", { x: 0, y: y + 14, "font-size": 11, class: "code" }, item.label));
    g.append(svg("rect", { x: label, y: y + 3, height: row - 6, rx: 2, fill: colour,
                           width: Math.max(2, (item.value / top) * (w - label - 40)) }));
    g.append(svg("text", { x: w - 4, y: y + 14, "font-size": 11, "text-anchor": "end" },
                 String(item.value)));
    chart.append(g);
  });
  if (items.length === 0) {
    chart.append(svg("text", { x: 0, y: 14, "font-size": 11, fill: "#6b7785" },
                     "无 · none"));
  }
  box.replaceChildren(chart);
}

function rateBar(share, rate) {
  const w = 64;
  const chart = svg("svg", { viewBox: `0 0 ${w + 40} 16`, width: w + 40, height: 16 });
  chart.append(svg("rect", { x: 0, y: 1, width: w, height: 6, fill: "#eef1f4" }));
  chart.append(svg("rect", { x: 0, y: 1, width: w * (share || 0), height: 6, fill: "#9ecae1" }));
  chart.append(svg("rect", { x: 0, y: 9, width: w, height: 6, fill: "#eef1f4" }));
  chart.append(svg("rect", { x: 0, y: 9, width: w * (rate || 0), height: 6, fill: "#2e8b57" }));
  chart.append(svg("text", { x: w + 4, y: 13, "font-size": 11 },
                   rate === null ? "—" : Math.round(rate * 100) + "%"));
  return chart;
}

function renderMembers(data) {
  const now = Date.parse(data.at) / 1000;
  const rows = data.members.map(m => el("tr", { "data-member": m.id, class: m.status },
    el("td", { class: "nowrap" }, el("span", { class: "dot " + m.status }),
       { ok: "正常", silent: "静默", never: "无数据" }[m.status]),
    el("td", {}, m.name + " ", el("small", { class: "code" }, m.id)),
    el("td", { class: "num events-in", "data-member": m.id }, m.events_in),
    m.last_event_at === null ? el("td", {}, "—")
      : el("td", { class: "nowrap", title: clock(m.last_event_at) },
           `${span(now - m.last_event_at)}前`)));
  fill(document.querySelector("#members tbody"), rows, 4, "无成员", "no members");
  document.getElementById("silent-note").textContent =
    `超过 ${span(data.silent_after_seconds)}无事件标红 · red: silent longer than ` +
    `${Math.round(data.silent_after_seconds / 60)} min`;
}

function renderThroughput(t, lag) {
  sparkline(document.getElementById("sparkline"), t.series);
  document.getElementById("totals").textContent =
    `累计 total: ${t.events_in_total} in / ${t.events_out_total} out`;
  const behind = lag.topics.filter(l => l.lag > 0);
  const rows = behind.map(l => el("tr", { "data-topic": l.topic },
    el("td", { class: "code" }, l.topic), el("td", { class: "num" }, l.lag)));
  fill(document.querySelector("#lag tbody"), rows, 2,
       `${lag.topics.length} 个主题无积压`, `${lag.topics.length} topics, all caught up`);
}

function renderDeadLetters(d) {
  hbars(document.getElementById("reason-bars"),
        d.by_reason.map(r => ({ label: r.reason, value: r.count })), "#c62828");
  const rows = d.recent.map(l => el("tr", { "data-reason": l.reason_code },
    el("td", {}, clock(l.at)),
    el("td", { class: "code" }, l.reason_code),
    el("td", { class: "detail", title: l.reason }, el("span", { class: "code" }, l.source_topic),
       el("small", {}, l.reason))));
  fill(document.querySelector("#recent-letters tbody"), rows, 3, "无死信", "none");
}

function caseRow(c, late) {
  const left = late ? `迟 ${span(c.late_by_seconds || 0)}`
    : c.seconds_left < 0 ? `超时 ${span(c.seconds_left)}` : span(c.seconds_left);
  return el("tr", { class: "state-" + (late ? "late" : c.state),
                    [late ? "data-late" : "data-case"]: c.case },
    el("td", { class: "code" }, c.case),
    el("td", {}, c.disease_name + " ", el("small", {}, c.disease_code)),
    el("td", { class: "code" }, c.member),
    el("td", { class: "lacks" }, (c.lacks || []).join("、") || "—"),
    el("td", { class: "num left" }, left));
}

function renderReporting(r) {
  const pills = document.getElementById("case-states");
  pills.replaceChildren(
    el("span", {}, "按时 in time ", r.open_by_state.in_time),
    el("span", { class: "warned" }, "过半 warned ", r.open_by_state.warned),
    el("span", { class: "late" }, "超时 late ", r.open_by_state.late),
    el("span", {}, `报告卡 cards ${r.cards.on_time} 按时 / ${r.cards.late} 迟`));
  fill(document.querySelector("#open-cases tbody"), r.open_cases.map(c => caseRow(c, false)),
       5, "无待报病例", "no open cases");
  fill(document.querySelector("#late-reports tbody"), r.late_reports.map(c => caseRow(c, true)),
       5, "无迟报", "none late");
}

const TRANSFER_STATES = { REQUESTED: "已申请", SHIPPED: "已发货", RECEIVED: "已到货" };

function renderPharmacy(p) {
  const shortages = p.open_shortages.map(s => el("tr", { "data-shortage": s.member },
    el("td", { class: "code" }, s.member),
    el("td", {}, s.drug_name),
    el("td", { class: "num" }, number(s.on_hand)),
    el("td", { class: "num" }, number(s.short)),
    el("td", {}, [s.transfer_from ? `调 ${number(s.transfer_quantity)} ← ${s.transfer_from}` +
                    (s.transfer_state ? `（${TRANSFER_STATES[s.transfer_state]}）` : "") : "",
                  s.order_quantity > 0 ? `订 ${number(s.order_quantity)} ${s.unit}` : ""]
      .filter(Boolean).join("；") || "—")));
  fill(document.querySelector("#shortages tbody"), shortages, 5, "无缺药", "no shortages");
  const orders = p.pending_orders.map(o => el("tr", { "data-pending": o.member },
    el("td", { class: "code" }, o.order || "—"), el("td", { class: "code" }, o.member),
    el("td", {}, o.drug_name),
    el("td", { class: "num" }, `${number(o.received)} / ${number(o.quantity)} ${o.unit}`)));
  fill(document.querySelector("#orders tbody"), orders, 4, "无待到货订单", "none pending");
  document.getElementById("orders-placed").textContent = `已下单 placed: ${p.orders_placed}`;
  const transfers = p.transfers.map(t => el("tr", { "data-transfer": t.transfer },
    el("td", { class: "code" }, t.from), el("td", { class: "code" }, t.to),
    el("td", {}, t.drug_name),
    el("td", { class: "num" }, `${number(t.quantity)} ${t.unit}`),
    el("td", { class: "state" }, TRANSFER_STATES[t.state] || t.state)));
  fill(document.querySelector("#transfers tbody"), transfers, 5, "无在途调拨", "");
  document.getElementById("transfers-total").textContent = `共 ${p.transfers_total} 笔`;
}

function renderRecognition(items) {
  const rows = items.map(r => el("tr", { "data-recognition": `${r.member}/${r.item}` },
    el("td", { class: "code" }, r.member),
    el("td", {}, r.item_name + " ", el("small", { class: "code" }, r.item)),
    el("td", { class: "num orders" }, r.orders),
    el("td", { class: "num recognisable" }, r.recognisable),
    el("td", { class: "num recognised" }, r.recognised),
    el("td", {}, rateBar(r.recognisable_rate, r.recognition_rate))));
  fill(document.querySelector("#recognition tbody"), rows, 6, "暂无开单", "no orders yet");
}

function percent(rate) {
  return rate === null || rate === undefined ? "—" : Math.round(rate * 100) + "%";
}

function statePills(part) {
  return part.by_state.map(e => `${e.state_name} ${e.count}`).join(" · ") || "—";
}

function referralRow(r) {
  const classes = [r.overdue ? "overdue" : "", r.closed ? "closed" : ""].join(" ").trim();
  return el("tr", { "data-referral": r.referral_id, class: classes || null },
    el("td", { class: "code", title: r.referral_id }, r.referral),
    el("td", {}, r.direction_name),
    el("td", { class: "code" }, (r.role === "sent" ? "→ " : "← ") + r.counterpart),
    el("td", {}, r.priority_name),
    el("td", { class: "state", title: r.booked_for ? "预约 " + r.booked_for : null }, r.state_name),
    el("td", { class: "nowrap" }, r.due || "—"),
    el("td", { class: "num left" }, r.left || "—"),
    el("td", { class: "num level" }, r.escalation_level || "—"));
}

// a board's section head: the member's name as the registry gives it, then its id
function memberHead(names, id) {
  return [(names[id] || id) + " ", el("small", { class: "code" }, id)];
}

function renderReferrals(b, names) {
  const rows = [];
  for (const m of b.members) {
    rows.push(el("tr", { class: "member-head", "data-referral-member": m.member },
      el("td", { colspan: 8 }, ...memberHead(names, m.member),
         el("small", {}, `发出 sent ${m.sent.total}：${statePills(m.sent)}`),
         el("small", {}, `收到 received ${m.received.total}：${statePills(m.received)}`),
         m.overdue_total ? el("small", { class: "warning" }, `逾期 ${m.overdue_total}`) : null)));
    for (const r of m.rows) rows.push(referralRow(r));
  }
  fill(document.querySelector("#referral-board tbody"), rows, 8, "暂无转诊", "no referrals");
  const escalated = b.escalations.map(r => el("tr", { "data-escalation": r.referral_id },
    el("td", { class: "code", title: r.referral_id }, r.referral),
    el("td", { class: "code" }, `${r.referrer} → ${r.receiver}`),
    el("td", {}, r.state_name),
    el("td", { class: "num left" }, r.left || "—")));
  fill(document.querySelector("#referral-escalations tbody"), escalated, 4, "无上报",
       "none escalated");
  const pools = b.pools.map(p => el("tr", { "data-pool": `${p.member}/${p.pool_id}`,
                                            class: p.below_minimum ? "below-minimum" : null },
    el("td", { title: p.period }, el("span", { class: "code" }, p.member), " ",
       p.resource_name + " ", el("small", {}, p.resource_kind),
       p.warning ? el("small", { class: "warning" }, " ⚠ " + p.warning) : null),
    el("td", { class: "num" }, p.total), el("td", { class: "num" }, p.reserved),
    el("td", { class: "num" }, p.booked), el("td", { class: "num" }, p.free),
    el("td", {}, rateBar(p.reserved_share, p.fill_rate))));
  fill(document.querySelector("#referral-pools tbody"), pools, 6, "未发布预留资源",
       "no pools");
  document.getElementById("pools-warning").textContent = b.pools_below_minimum
    ? `${b.pools_below_minimum} 个预留不足 20%` : "";
  const figures = b.figures.map(f => el("tr", { "data-period": f.period },
    el("td", {}, f.period),
    el("td", { class: "num" }, f.upward_arrived), el("td", { class: "num" }, f.downward_arrived),
    el("td", { class: "num" }, `${f.answered_in_time}/${f.answered} ${percent(f.in_time_rate)}`),
    el("td", { class: "num" }, percent(f.closed_loop_rate)),
    el("td", { class: "num" }, percent(f.reserved_use))));
  fill(document.querySelector("#referral-figures tbody"), figures, 6, "暂无", "none yet");
}

function readRow(r) {
  return el("tr", { "data-read": r.request_id, class: r.overdue ? "overdue" : null },
    el("td", { class: "code", title: r.request_id }, r.request),
    el("td", { class: "code" }, r.role === "reading" ? "← " + r.examining : "→ " + r.reading),
    el("td", {}, r.modality_name),
    el("td", {}, r.priority_name),
    el("td", { class: "state" }, r.state_name + (r.routed_to_backup ? " (备用中心)" : "")),
    el("td", {}, r.claimant || "—"),
    el("td", { class: "nowrap" }, r.due || "—"),
    el("td", { class: "num left" }, r.left || "—"),
    el("td", { class: "num level" }, r.escalation_level || "—"));
}

function renderRemoteReads(b, names) {
  const rows = [], criticals = [];
  for (const m of b.members) {
    rows.push(el("tr", { class: "member-head", "data-read-member": m.member },
      el("td", { colspan: 9 }, ...memberHead(names, m.member), el("small", {}, `待办 open ${m.open_total}`),
         m.overdue_total ? el("small", { class: "warning" }, `逾期 ${m.overdue_total}`) : null)));
    for (const r of m.rows) rows.push(readRow(r));
    for (const c of m.criticals) {
      if (c.ordering !== m.member) continue;  // listed once, under who must acknowledge
      criticals.push(el("tr", { "data-critical": `${c.request_id}|${c.critical_id}`,
                                class: c.overdue ? "overdue" : null },
        el("td", { class: "code", title: c.request_id }, `${c.request} · ${c.critical_id}`),
        el("td", { class: "code" }, `${c.raised_by} → ${c.ordering}`),
        el("td", { class: "state" }, c.state_name),
        el("td", { class: "nowrap" }, (c.due || "—") + (c.left ? " " + c.left : "")),
        el("td", { class: "num level" }, c.escalation_level || "—")));
    }
  }
  fill(document.querySelector("#read-board tbody"), rows, 9, "暂无阅片申请", "no reads");
  fill(document.querySelector("#critical-board tbody"), criticals, 5, "无未闭环危急值",
       "none open");
  const f = b.figures;
  fill(document.querySelector("#read-per-centre tbody"), f.per_centre.map(c => el("tr", {},
    el("td", {}, c.period), el("td", { class: "code" }, c.centre), el("td", {}, c.modality),
    el("td", { class: "num" }, c.reports))), 4, "暂无", "none yet");
  fill(document.querySelector("#read-compliance tbody"), f.compliance.map(c => el("tr", {},
    el("td", {}, c.modality), el("td", {}, c.priority),
    el("td", { class: "num" }, `${c.in_time}/${c.reports}`),
    el("td", { class: "num" }, percent(c.rate)))), 4, "暂无", "none yet");
  fill(document.querySelector("#critical-in-time tbody"), f.criticals_in_time.map(c =>
    el("tr", {}, el("td", { class: "code" }, c.member),
       el("td", { class: "num" }, `${c.in_time}/${c.closed}`),
       el("td", { class: "num" }, percent(c.rate)))), 3, "暂无", "none yet");
}

function renderScope(scope) {
  const node = document.getElementById("scope");
  node.replaceChildren(scope.summary);
  if (scope.grafana_url) {
    node.append(" ", el("a", { href: scope.grafana_url }, "打开 Grafana"));
  }
  node.classList.toggle("partial", !scope.all_partitions);
}

function render(data) {
  document.getElementById("consortium").textContent = data.consortium;
  renderScope(data.scope);
  setText("kpi-in", number(data.throughput.in_per_second));
  setText("kpi-out", number(data.throughput.out_per_second));
  setText("kpi-lag", data.lag.total, data.lag.total > 1000);
  setText("kpi-dlq", data.dead_letters.total, data.dead_letters.total > 0);
  setText("kpi-cases", data.reporting.open_total, data.reporting.open_by_state.late > 0);
  setText("kpi-shortages", data.pharmacy.open_total, data.pharmacy.open_total > 0);
  setText("kpi-referrals", data.referrals.overdue_total, data.referrals.overdue_total > 0);
  setText("kpi-criticals", data.remote_reads.criticals_open,
          data.remote_reads.criticals_escalated > 0);
  renderMembers(data);
  renderThroughput(data.throughput, data.lag);
  renderDeadLetters(data.dead_letters);
  renderReporting(data.reporting);
  renderPharmacy(data.pharmacy);
  renderRecognition(data.recognition);
  const names = Object.fromEntries(data.members.map(m => [m.id, m.name]));
  renderReferrals(data.referrals, names);
  renderRemoteReads(data.remote_reads, names);
  document.getElementById("updated").textContent = "更新于 updated " + clock(data.at);
  document.body.dataset.loaded = "1";
}

function status(live) {
  const node = document.getElementById("status");
  node.className = "status " + (live ? "live" : "down");
  node.replaceChildren(...(live ? bilingual("在线", "live") : bilingual("断开", "no data")));
}

async function poll() {
  try {
    const reply = await fetch(DATA_URL, { cache: "no-store" });
    if (reply.status === 401) {  // the sign-in expired: sign in again, then come back
      location.href = "/sign-in?next=/dashboard";
      return;
    }
    if (!reply.ok) throw new Error("HTTP " + reply.status);
    render(await reply.json());
    status(true);
  } catch (err) {
    status(false);
    console.error("dashboard:", err);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
