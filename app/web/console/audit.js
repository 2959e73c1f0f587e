// 审计: the audit log, filtered (person, client, action or a prefix such as "session.", object, time),
// newest first, a page at a time (next_cursor), and a check of the hash chain. Admins and auditors alike.
import { api, describeError, formatTime, h, query, table } from "./api.js";

const ROLES = { admin: "管理员", clerk: "窗口人员", auditor: "审计员" };
const METHODS = { password: "密码+动态码", oidc: "统一身份认证" };
const OUTCOMES = { success: "成功", failure: "失败", refused: "拒绝" };
const PAGE_SIZE = 50;

// A date input's day (2026-12-07) as the start of that day in Beijing time; `until` is the next day's
// start, so that the day chosen is included.
function dayStart(value, plusDays = 0) {
  if (!value) return "";
  const day = new Date(`${value}T00:00:00+08:00`);
  day.setTime(day.getTime() + plusDays * 86400 * 1000);
  const shifted = new Date(day.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  return `${shifted}T00:00:00+08:00`;
}

function field(label, id, attributes = {}) {
  return h("label", {}, label, h("input", { id, name: id, ...attributes }));
}

function personOf(event) {
  if (!event.actor) return "";
  const roles = event.actor_roles.map((role) => ROLES[role] || role).join("、");
  const method = METHODS[event.actor_method] || event.actor_method || "";
  const how = [method, roles].filter(Boolean).join(" · ");
  return how ? `${event.actor}（${how}）` : event.actor;
}

function eventRow(event) {
  const outcome = OUTCOMES[event.outcome] || event.outcome;
  return h(
    "tr",
    { dataset: { seq: event.seq } },
    h("td", {}, formatTime(event.occurred_at)),
    h("td", {}, personOf(event)),
    h("td", {}, event.client_id || ""),
    h("td", {}, h("code", {}, event.action)),
    h("td", {}, event.object_ref || ""),
    h("td", { class: event.outcome === "success" ? "" : "error" }, outcome),
  );
}

export async function render(root) {
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const chain = h("p", { id: "chain-result", role: "status" });
  const results = h("div", { id: "audit-results" });
  const more = h("button", { type: "button", id: "audit-next", hidden: true }, "下一页");
  const pageNote = h("span", { class: "muted", id: "audit-page-note" });
  const form = h(
    "form",
    { id: "audit-filter", class: "panel-form" },
    field("人员", "audit-actor", { placeholder: "用户名", maxlength: 64 }),
    field("客户端", "audit-client", { placeholder: "client_id", maxlength: 64 }),
    field("操作", "audit-action", { placeholder: "如 staff.created 或 session.", maxlength: 64 }),
    field("对象", "audit-object", { placeholder: "如 staff:wang.li", maxlength: 200 }),
    field("起始日期", "audit-since", { type: "date" }),
    field("截止日期", "audit-until", { type: "date" }),
    h("button", { type: "submit", class: "primary", id: "audit-search" }, "查询"),
  );
  const verify = h("button", { type: "button", id: "audit-verify" }, "校验审计链");

  let filters = {};
  let cursor = null;
  let shown = 0;

  function readFilters() {
    const value = (id) => form.querySelector(`#${id}`).value.trim();
    return {
      actor: value("audit-actor"),
      client_id: value("audit-client"),
      action: value("audit-action"),
      object_ref: value("audit-object"),
      since: dayStart(value("audit-since")),
      until: dayStart(value("audit-until"), 1),
    };
  }

  async function load(fresh) {
    message.hidden = true;
    try {
      const page = await api("GET", `/v1/admin/audit${query({ ...filters, cursor, limit: PAGE_SIZE })}`);
      const rows = page.items.map(eventRow);
      if (fresh) {
        shown = 0;
        results.replaceChildren(
          page.items.length
            ? table(["时间", "人员（方式 · 角色）", "客户端", "操作", "对象", "结果"], rows)
            : h("p", { class: "muted" }, "没有符合条件的审计记录"),
        );
      } else {
        results.querySelector("tbody").append(...rows);
      }
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      pageNote.textContent = shown ? `已显示 ${shown} 条（最新在前）` : "";
    } catch (error) {
      message.textContent = describeError(error);
      message.hidden = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    filters = readFilters();
    cursor = null;
    await load(true);
  });
  more.addEventListener("click", () => load(false));
  verify.addEventListener("click", async () => {
    chain.className = "muted";
    chain.textContent = "正在校验…";
    try {
      const report = await api("GET", "/v1/admin/audit/verify");
      chain.dataset.intact = String(report.intact);
      if (report.intact) {
        chain.className = "ok";
        chain.textContent = `审计链完整：已校验 ${report.checked} 条记录`;
      } else {
        chain.className = "error";
        chain.textContent = `审计链在第 ${report.broken_at} 条记录处断裂${report.reason ? `（${report.reason}）` : ""}`;
      }
    } catch (error) {
      chain.className = "error";
      chain.textContent = describeError(error);
    }
  });

  root.append(
    h("div", { class: "panel" }, h("h2", {}, "审计日志"), form, h("p", { class: "chain-bar" }, verify, " ", chain)),
    h("div", { class: "panel" }, message, results, h("div", { class: "pager" }, more, pageNote)),
  );
  await load(true);
}
