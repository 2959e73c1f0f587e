// The console's shell: who is signed in, the sections (one module each, loaded when opened), the address
// (#/section) so that a reload or a bookmark opens the same place.
import { api, describeError, h, useSession } from "./api.js";

const SECTIONS = [
  ["import", "导入"],
  ["registry", "登记查询"],
  ["status", "状态变更"],
  ["rules", "互认规则"],
  ["catalogue", "人才目录"],
  ["audit", "审计"],
  ["people", "客户端 / 人员"],
];
const ROLES = { admin: "管理员", clerk: "窗口人员", auditor: "审计员" };

const context = { person: null };

function say(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

function current() {
  const name = window.location.hash.replace(/^#\//, "").split("?")[0];
  return SECTIONS.some(([key]) => key === name) ? name : SECTIONS[0][0];
}

async function open() {
  const name = current();
  for (const link of document.querySelectorAll("#sections a")) {
    if (link.dataset.section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = document.getElementById("view");
  view.replaceChildren(h("p", { class: "muted" }, "加载中…"));
  say("");
  try {
    const section = await import(`./${name}.js`);
    view.replaceChildren();
    await section.render(view, context);
  } catch (error) {
    view.replaceChildren();
    say(describeError(error));
  }
}

async function start() {
  const person = await api("GET", "/v1/session");
  useSession(person);
  context.person = person;
  const roles = person.roles.map((role) => ROLES[role] || role).join("、");
  document.getElementById("who").textContent = `${person.display_name}（${roles}）`;
  document.getElementById("sections").replaceChildren(
    ...SECTIONS.map(([key, label]) => h("a", { href: `#/${key}`, dataset: { section: key } }, label)),
  );
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("DELETE", "/v1/session").catch(() => null);
    window.location.assign("/signin?next=/admin");
  });
  window.addEventListener("hashchange", open);
  await open();
}

start().catch((error) => say(describeError(error)));
