// The console's registry section: search credentials, open one (fields, versions, status history, recent
// verifications), reveal its holder's number (admins; audited) and change its status with a reason.
import {
  ApiError,
  KIND_LABELS,
  STATUS_LABELS,
  api,
  describeError,
  formatDate,
  formatTime,
  h,
  loadCardSystemNames,
  query,
  table,
} from "./api.js";

const KINDS = KIND_LABELS;
// The changes a person may ask for from each status (app/domain/status.py; the server decides anyway).
const ACTIONS = {
  active: [
    ["suspended", "暂停（暂扣）"],
    ["revoked", "撤销"],
    ["cancelled", "注销"],
  ],
  suspended: [
    ["active", "恢复"],
    ["revoked", "撤销"],
    ["cancelled", "注销"],
  ],
  expired: [
    ["revoked", "撤销"],
    ["cancelled", "注销"],
  ],
};
const REFUSALS = {
  "status.unchanged": "证书已经是该状态",
  "status.forbidden_transition": "状态机不允许这一变更",
  "status.not_manual": "该状态只能由系统设置",
};
const VERIFY_OUTCOMES = { ...STATUS_LABELS, valid: "有效", no_match: "信息不符或未找到" };

function option(value, label, selected) {
  return h("option", { value, selected: value === selected }, label);
}

function field(id, label, control) {
  control.id = id;
  return h("label", { for: id }, label, control);
}

function searchForm(onSearch) {
  const kind = h("select", { name: "kind" }, option("", "全部"), Object.entries(KINDS).map(([k, v]) => option(k, v)));
  const region = h("select", { name: "region" }, option("", "全部"), option("SC", "四川"), option("CQ", "重庆"));
  const status = h("select", { name: "status" }, option("", "全部"), Object.entries(STATUS_LABELS).map(([k, v]) => option(k, v)));
  const number = h("input", { name: "number", maxlength: 64, size: 18 });
  const holder = h("input", { name: "holder_name", maxlength: 50, size: 8 });
  const issuer = h("input", { name: "issuer", maxlength: 200, size: 18, placeholder: "信用代码或名称" });
  const from = h("input", { name: "issued_from", type: "date" });
  const to = h("input", { name: "issued_to", type: "date" });
  const form = h(
    "form",
    { class: "panel", id: "registry-search" },
    h("h2", {}, "登记查询"),
    h(
      "p",
      {},
      field("q-kind", "类别", kind),
      field("q-region", "地区", region),
      field("q-status", "状态", status),
      field("q-number", "证书编号", number),
      field("q-holder", "持有人姓名", holder),
    ),
    h(
      "p",
      {},
      field("q-issuer", "发证机构", issuer),
      field("q-from", "发证日期自", from),
      field("q-to", "至", to),
      h("button", { type: "submit", class: "primary" }, "查询"),
    ),
    h("p", { class: "muted" }, "持有人按姓名全称精确查找；证件号码不作为查询条件，以免出现在地址中。"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = {};
    for (const control of form.querySelectorAll("[name]")) params[control.name] = control.value.trim();
    onSearch(params);
  });
  return form;
}

function results(params, onOpen) {
  const panel = h("div", { class: "panel", id: "registry-results" });
  const cursors = [null];
  const draw = async () => {
    const page = await api("GET", `/v1/credentials${query({ ...params, limit: 20, cursor: cursors[cursors.length - 1] })}`);
    const rows = page.items.map((c) => {
      const open = h("button", { type: "button" }, "查看");
      open.addEventListener("click", () => onOpen(c));
      return h(
        "tr",
        { dataset: { number: c.number } },
        h("td", {}, KINDS[c.kind]),
        h("td", {}, c.region),
        h("td", {}, c.number),
        h("td", {}, c.holder.name),
        h("td", {}, c.holder.id_number_masked),
        h("td", {}, c.issuer.name),
        h("td", {}, formatDate(c.issued_on)),
        h("td", {}, STATUS_LABELS[c.status] || c.status),
        h("td", {}, open),
      );
    });
    const previous = h("button", { type: "button", disabled: cursors.length === 1 }, "上一页");
    const next = h("button", { type: "button", disabled: !page.next_cursor }, "下一页");
    previous.addEventListener("click", () => (cursors.pop(), draw().catch(fail)));
    next.addEventListener("click", () => (cursors.push(page.next_cursor), draw().catch(fail)));
    panel.replaceChildren(
      rows.length
        ? table(["类别", "地区", "编号", "持有人", "证件号码", "发证机构", "发证日期", "状态", ""], rows)
        : h("p", { class: "muted" }, "没有符合条件的证书"),
      h("div", { class: "pager" }, previous, next),
    );
  };
  const fail = (error) => panel.replaceChildren(h("p", { class: "error", role: "alert" }, describeError(error)));
  draw().catch(fail);
  return panel;
}

function path(c) {
  return `/v1/credentials/${c.kind}/${encodeURIComponent(c.region)}/${encodeURIComponent(c.number)}`;
}

function describeRefusal(error) {
  if (error instanceof ApiError && error.status === 409) {
    const code = error.problem.code;
    const current = error.problem.current_status;
    const now = current ? `（当前状态：${STATUS_LABELS[current] || current}）` : "";
    return `${REFUSALS[code] || "无法变更状态"}${now}`;
  }
  if (error instanceof ApiError && error.status === 422) return "请填写变更原因（不超过 500 字）";
  return describeError(error);
}

function revealer(c, canReveal) {
  const shown = h("span", { id: "holder-number" }, c.holder.id_number_masked);
  if (!canReveal) return shown;
  const button = h("button", { type: "button", id: "reveal" }, "显示证件号");
  button.addEventListener("click", async () => {
    try {
      const answer = await api("POST", `${path(c)}/holder/reveal`);
      shown.textContent = answer.id_number;
      shown.className = "secret";
      button.remove();
    } catch (error) {
      shown.textContent = `${c.holder.id_number_masked}（${describeError(error)}）`;
    }
  });
  return h("span", {}, shown, " ", button);
}

function statusForm(c, onChanged) {
  const actions = ACTIONS[c.status] || [];
  if (!actions.length) return h("p", { class: "muted" }, "该状态下不能再变更。");
  const target = h("select", { name: "status" }, actions.map(([value, label]) => option(value, label)));
  const reason = h("textarea", { name: "reason", rows: 2, cols: 50, maxlength: 500, "aria-required": "true" });
  const message = h("p", { role: "alert", id: "status-message" });
  const form = h(
    "form",
    { id: "status-form" },
    h("h3", {}, "变更状态"),
    h("p", {}, field("status-target", "变更为", target), field("status-reason", "原因（必填）", reason)),
    h("p", {}, h("button", { type: "submit", class: "danger" }, "确认变更")),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!reason.value.trim()) {
      message.className = "error";
      message.textContent = "请填写变更原因";
      return;
    }
    try {
      const changed = await api("POST", `${path(c)}/status`, { status: target.value, reason: reason.value.trim() });
      onChanged(changed);
    } catch (error) {
      message.className = "error";
      message.textContent = describeRefusal(error);
    }
  });
  return form;
}

function kindFields(c, systemNames) {
  if (c.kind === "title") return [["职称", `${c.title_name}（${c.title_code}）`], ["专业", c.specialty], ["取得日期", formatDate(c.obtained_on)], ["评审机构", c.review_body]];
  if (c.kind === "skill") return [["职业", `${c.occupation_name || ""}（${c.occupation_code}）`], ["等级", c.level_name], ["工种", c.work_type]];
  if (c.kind === "permit") return [["许可类别", `${c.permit_class_name}（${c.permit_class}）`], ["用人单位", c.employer_name], ["用人单位统一社会信用代码", c.employer_usci]];
  const system = systemNames[c.card_system] ? `${systemNames[c.card_system]}（${c.card_system}）` : c.card_system;
  return [["人才卡体系", system], ["类别", c.card_class_name], ["服务事项", c.entitlements.join("、")]];
}

async function detail(c, context, slot) {
  const history = await api("GET", `${path(c)}/history`);
  const canReveal = context.person.roles.includes("admin");
  const reopen = (changed) => detail(changed, context, slot).catch((error) => slot.replaceChildren(h("p", { class: "error" }, describeError(error))));
  const facts = [
    ["类别", KINDS[c.kind]],
    ["地区", c.region],
    ["编号", c.number],
    ["状态", `${STATUS_LABELS[c.status] || c.status}${c.status_reason ? `（${c.status_reason}）` : ""}`],
    ["持有人", c.holder.name],
    ["证件号码", revealer(c, canReveal)],
    ["发证机构", `${c.issuer.name}（${c.issuer.usci}）`],
    ["发证日期", formatDate(c.issued_on)],
    ["有效期", `${formatDate(c.valid_from) || formatDate(c.issued_on)} 至 ${formatDate(c.valid_until) || "长期"}`],
    ["版本", String(c.version)],
    ...kindFields(c, c.kind === "card" ? await loadCardSystemNames() : {}),
  ];
  slot.replaceChildren(
    h(
      "div",
      { class: "panel", id: "credential", dataset: { status: c.status } },
      h("h2", {}, `${KINDS[c.kind]} ${c.number}`),
      h("dl", {}, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "")])),
      canReveal ? statusForm(c, reopen) : null,
      h("h3", {}, "版本"),
      table(
        ["编号", "版本", "状态", "发证日期", "登记时间"],
        history.versions.map((v) => h("tr", {}, h("td", {}, v.current ? `${v.number}（当前）` : v.number), h("td", {}, v.version), h("td", {}, STATUS_LABELS[v.status] || v.status), h("td", {}, formatDate(v.issued_on)), h("td", {}, formatTime(v.created_at)))),
      ),
      h("h3", {}, "状态变更记录"),
      history.status_changes.length
        ? table(
            ["时间", "原状态", "新状态", "原因", "操作人"],
            history.status_changes.map((s) => h("tr", {}, h("td", {}, formatTime(s.changed_at)), h("td", {}, STATUS_LABELS[s.from_status] || s.from_status), h("td", {}, STATUS_LABELS[s.to_status] || s.to_status), h("td", {}, s.reason || ""), h("td", {}, s.actor))),
          )
        : h("p", { class: "muted" }, "没有状态变更"),
      h("h3", {}, "最近核验（最多 20 次）"),
      history.verifications.length
        ? table(
            ["时间", "核验方", "人员", "结果"],
            history.verifications.map((v) => h("tr", {}, h("td", {}, formatTime(v.occurred_at)), h("td", {}, v.client_id || ""), h("td", {}, v.actor || "—"), h("td", {}, VERIFY_OUTCOMES[v.outcome] || v.outcome))),
          )
        : h("p", { class: "muted" }, "近期没有核验记录"),
    ),
  );
}

export async function render(root, context) {
  const listing = h("div");
  const shown = h("div", { id: "credential-slot" });
  const open = (c) => detail(c, context, shown).then(
    () => shown.scrollIntoView({ block: "start" }),
    (error) => shown.replaceChildren(h("p", { class: "error", role: "alert" }, describeError(error))),
  );
  root.append(searchForm((params) => listing.replaceChildren(results(params, open))), listing, shown);
}
