// 客户端 / 人员: machine clients (their secret shown once) and staff accounts (their one-time password
// shown once, a factor reset, roles and regions, disabling), all over /v1/admin/clients and /v1/admin/staff.
import { REGION_LABELS, api, describeError, formatDate, h, table } from "./api.js";

const ROLES = { admin: "管理员", clerk: "窗口人员", auditor: "审计员" };
const SCOPES = {
  verify: "核验",
  "registry:read": "登记查询",
  "registry:write": "登记维护",
  "cards:issue": "发卡",
  admin: "管理",
  "audit:read": "审计查阅",
  federation: "跨区互联",
  metrics: "监控指标",
};

const names = (codes, book) => codes.map((code) => book[code] || code).join("、");

// Checkboxes named `name`, one per entry of `book`; the checked ones are read back by `checked`.
function checkboxes(name, book, chosen = []) {
  return h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, { roles: "角色", regions: "地区", scopes: "权限" }[name] || name),
    Object.entries(book).map(([code, label]) =>
      h(
        "label",
        { class: "choice" },
        h("input", { type: "checkbox", name, value: code, checked: chosen.includes(code) }),
        ` ${label}`,
      ),
    ),
  );
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

// What is shown once: a clearly marked box the admin copies from; it is gone when the page is left.
function onceBox(id, title, rows) {
  return h(
    "div",
    { class: "once-box", id, role: "status" },
    h("p", { class: "once-title" }, title),
    h("p", {}, "此信息仅显示这一次，系统不保存明文。请立即复制并通过安全渠道交给使用者。"),
    h("dl", {}, rows.flatMap(([label, value, valueId]) => [h("dt", {}, label), h("dd", {}, h("code", { class: "secret", id: valueId }, value))])),
  );
}

// A destructive action asks first, in the row itself (a real button pair: usable by keyboard).
function confirmButton(label, question, action) {
  const holder = h("span", { class: "row-actions" });
  const ask = h("button", {
    type: "button",
    class: "danger",
    onclick: () => {
      const yes = h("button", { type: "button", class: "danger", onclick: action }, `确认${label}`);
      const no = h("button", { type: "button", onclick: () => holder.replaceChildren(ask) }, "取消");
      holder.replaceChildren(h("span", { class: "confirm-question" }, question), yes, no);
      yes.focus();
    },
  }, label);
  holder.append(ask);
  return holder;
}

function say(box, message, ok = false) {
  box.textContent = message;
  box.className = ok ? "ok" : "error";
  box.hidden = !message;
}

async function renderClients(panel) {
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const shown = h("div", { id: "client-once" });
  const list = h("div", {});
  const form = h(
    "form",
    { id: "client-form", class: "panel-form" },
    h("label", {}, "名称", h("input", { id: "client-name", name: "name", required: true, maxlength: 200 })),
    h(
      "label",
      {},
      "地区",
      h("select", { id: "client-region", name: "region" }, Object.entries(REGION_LABELS).map(([code, label]) => h("option", { value: code }, label))),
    ),
    h("label", {}, "机构名称（可选）", h("input", { id: "client-org", name: "org_name", maxlength: 200 })),
    checkboxes("scopes", SCOPES, ["verify"]),
    h("button", { type: "submit", class: "primary", id: "client-create" }, "创建客户端"),
  );

  async function load() {
    const page = await api("GET", "/v1/admin/clients");
    list.replaceChildren(
      table(
        ["客户端 ID", "名称", "地区", "权限", "机构", "状态", "创建日期", "操作"],
        page.items.map((client) =>
          h(
            "tr",
            { dataset: { client: client.client_id } },
            h("td", {}, h("code", {}, client.client_id)),
            h("td", {}, client.name),
            h("td", {}, REGION_LABELS[client.region] || client.region),
            h("td", {}, names(client.scopes, SCOPES)),
            h("td", {}, client.org_name || ""),
            h("td", {}, client.disabled ? "已停用" : "启用"),
            h("td", {}, formatDate(client.created_at)),
            h(
              "td",
              {},
              client.disabled
                ? ""
                : confirmButton("停用", `停用 ${client.name}？其令牌将立即失效。`, async () => {
                    try {
                      await api("POST", `/v1/admin/clients/${encodeURIComponent(client.client_id)}/disable`);
                      say(message, `已停用 ${client.client_id}`, true);
                    } catch (error) {
                      say(message, describeError(error));
                    }
                    await load();
                  }),
            ),
          ),
        ),
      ),
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = checked(form, "scopes");
    if (!scopes.length) {
      say(message, "请至少选择一项权限");
      return;
    }
    const body = { name: form.elements.name.value.trim(), region: form.elements.region.value, scopes: scopes.join(" ") };
    if (form.elements.org_name.value.trim()) body.org_name = form.elements.org_name.value.trim();
    try {
      const created = await api("POST", "/v1/admin/clients", body);
      shown.replaceChildren(
        onceBox("client-secret-box", `客户端 ${created.name} 已创建`, [
          ["客户端 ID (client_id)", created.client_id, "created-client-id"],
          ["密钥 (client_secret)", created.client_secret, "created-client-secret"],
        ]),
      );
      say(message, "");
      form.reset();
      await load();
    } catch (error) {
      say(message, describeError(error));
    }
  });

  panel.append(h("h2", {}, "机器客户端"), message, shown, list, h("h3", {}, "新建客户端"), form);
  await load();
}

function rolesEditor(member, done) {
  const form = h(
    "form",
    { class: "panel-form roles-editor", id: "roles-editor" },
    h("p", {}, `修改 ${member.display_name}（${member.username}）的角色和地区。保存后其登录会话立即结束。`),
    checkboxes("roles", ROLES, member.roles),
    checkboxes("regions", REGION_LABELS, member.regions),
    h("button", { type: "submit", class: "primary" }, "保存"),
    h("button", { type: "button", onclick: () => done(null) }, "取消"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { roles: checked(form, "roles"), regions: checked(form, "regions") };
    try {
      await api("PUT", `/v1/admin/staff/${encodeURIComponent(member.username)}/roles`, body);
      done(`已更新 ${member.username} 的角色`);
    } catch (error) {
      done(describeError(error), true);
    }
  });
  return form;
}

async function renderStaff(panel, me) {
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const shown = h("div", { id: "staff-once" });
  const editor = h("div", {});
  const list = h("div", {});
  const form = h(
    "form",
    { id: "staff-form", class: "panel-form" },
    h("label", {}, "用户名", h("input", { id: "staff-username", name: "username", required: true, maxlength: 64 })),
    h("label", {}, "姓名", h("input", { id: "staff-display-name", name: "display_name", required: true, maxlength: 100 })),
    checkboxes("roles", ROLES, ["clerk"]),
    checkboxes("regions", REGION_LABELS, []),
    h("button", { type: "submit", class: "primary", id: "staff-create" }, "创建人员"),
  );

  async function act(path, done) {
    try {
      await api("POST", path);
      say(message, done, true);
    } catch (error) {
      say(message, describeError(error));
    }
    await load();
  }

  async function load() {
    const page = await api("GET", "/v1/admin/staff");
    list.replaceChildren(
      table(
        ["用户名", "姓名", "角色", "地区", "来源", "身份验证器", "状态", "创建日期", "操作"],
        page.items.map((member) => {
          const path = `/v1/admin/staff/${encodeURIComponent(member.username)}`;
          const active = member.state === "active";
          const self = member.username === me;
          return h(
            "tr",
            { dataset: { staff: member.username } },
            h("td", {}, member.username),
            h("td", {}, member.display_name),
            h("td", {}, names(member.roles, ROLES)),
            h("td", {}, names(member.regions, REGION_LABELS)),
            h("td", {}, member.source === "oidc" ? "统一身份认证" : "本地账号"),
            h("td", {}, member.totp_enrolled ? "已绑定" : "未绑定"),
            h("td", {}, active ? "启用" : "已停用"),
            h("td", {}, formatDate(member.created_at)),
            h(
              "td",
              { class: "row-buttons" },
              active && h("button", {
                type: "button",
                onclick: () => {
                  editor.replaceChildren(rolesEditor(member, async (text, failed) => {
                    editor.replaceChildren();
                    if (text) say(message, text, !failed);
                    await load();
                  }));
                  editor.querySelector("input")?.focus();
                },
              }, "修改角色"),
              active && member.source === "local" && member.totp_enrolled &&
                confirmButton("重置验证器", `重置 ${member.username} 的身份验证器？其下次登录时需重新绑定。`, () =>
                  act(`${path}/reset-factor`, `已重置 ${member.username} 的身份验证器`)),
              active && !self &&
                confirmButton("停用", `停用 ${member.username}？其登录会话将立即结束。`, () =>
                  act(`${path}/disable`, `已停用 ${member.username}`)),
            ),
          );
        }),
      ),
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      username: form.elements.username.value.trim(),
      display_name: form.elements.display_name.value.trim(),
      roles: checked(form, "roles"),
      regions: checked(form, "regions"),
    };
    if (!body.roles.length || !body.regions.length) {
      say(message, "请至少选择一个角色和一个地区");
      return;
    }
    try {
      const created = await api("POST", "/v1/admin/staff", body);
      const rows = [["用户名", created.username, "created-username"]];
      if (created.initial_password) rows.push(["初始密码", created.initial_password, "created-password"]);
      shown.replaceChildren(
        onceBox("staff-password-box", `人员 ${created.display_name} 已创建（首次登录时绑定身份验证器）`, rows),
      );
      say(message, "");
      form.reset();
      await load();
    } catch (error) {
      say(message, describeError(error));
    }
  });

  panel.append(h("h2", {}, "工作人员"), message, shown, editor, list, h("h3", {}, "新建人员"), form);
  await load();
}

export async function render(root, context) {
  const person = context.person || { roles: [] };
  if (!person.roles.includes("admin")) {
    // An auditor reads the audit only; the API would refuse these pages anyway.
    root.append(h("div", { class: "panel" }, h("p", { class: "muted" }, "客户端和人员仅由管理员管理。")));
    return;
  }
  const clients = h("div", { class: "panel", id: "clients-panel" });
  const staff = h("div", { class: "panel", id: "staff-panel" });
  root.append(clients, staff);
  await Promise.all([renderClients(clients), renderStaff(staff, person.username)]);
}
