// What every section of the console shares: calls to the JSON API with the session cookie (and its CSRF
// token on every call that changes something), Chinese messages for problems, and small DOM helpers.

let csrfToken = "";

// Labels every section shows the same way.
export const REGION_LABELS = { SC: "四川", CQ: "重庆" };
// The kinds of credential (app/domain/kinds.py), in the order the selects list them.
export const KIND_LABELS = {
  title: "职称证书",
  skill: "职业技能等级证书",
  card: "人才卡",
  permit: "外国人工作许可",
};
export const STATUS_LABELS = {
  active: "有效",
  suspended: "暂扣",
  revoked: "撤销",
  cancelled: "注销",
  expired: "失效",
  transferred: "转出",
  superseded: "已更正",
};

// The card systems' names, read once from the public code table: a new system (新重庆人才卡) needs no change here.
let cardSystemNames = null;

export async function loadCardSystemNames() {
  if (cardSystemNames === null) {
    const answer = await api("GET", "/v1/reference/card-systems");
    cardSystemNames = Object.fromEntries(answer.items.map((system) => [system.code, system.name]));
  }
  return cardSystemNames;
}

export function useSession(session) {
  csrfToken = session.csrf_token;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// The API's answer as JSON (or text for CSV); a problem becomes an ApiError. A lost session goes back to sign-in.
export async function api(method, path, body, options = {}) {
  const headers = { Accept: options.accept || "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  const init = { method, headers, credentials: "same-origin" };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (options.extraHeaders) Object.assign(headers, options.extraHeaders);
  const answer = await fetch(path, init);
  if (answer.status === 401) {
    window.location.assign(`/signin?next=${encodeURIComponent("/admin" + window.location.hash)}`);
    throw new ApiError(401, { detail: "登录已失效" });
  }
  const type = answer.headers.get("content-type") || "";
  const payload = type.includes("json") ? await answer.json().catch(() => null) : await answer.text();
  if (!answer.ok) throw new ApiError(answer.status, payload);
  return payload;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// An element with attributes and children; strings become text nodes (never HTML).
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function table(headings, rows) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows),
  );
}

// Dates as 2026-12-07 and times as 2026-12-07 09:30:15, in Beijing time whatever the browser's zone.
export function formatDate(value) {
  return value ? String(value).slice(0, 10) : "";
}

export function formatTime(value) {
  if (!value) return "";
  const shifted = new Date(new Date(value).getTime() + 8 * 3600 * 1000);
  return shifted.toISOString().slice(0, 19).replace("T", " ");
}

export function describeError(error) {
  if (!(error instanceof ApiError)) return "无法连接服务器，请稍后重试";
  if (error.status === 403) return "无权执行此操作（需要管理员角色）";
  const problem = error.problem;
  const rows = Array.isArray(problem.errors) ? problem.errors.map((e) => e.message).join("；") : "";
  return `${problem.detail || "请求失败"}${rows ? `：${rows}` : ""}`;
}
