// The console's catalogue section (人才目录): the shortage catalogue's editions and entries, read only, as the
// public API answers them. Entries come in through the import section (kind 人才目录).
import { REGION_LABELS, api, describeError, h, query, table } from "./api.js";

const URGENCY = { severe: "重度", moderate: "中度", mild: "轻度" };

function option(value, text, selected) {
  return h("option", { value, selected: value === selected }, text);
}

export async function render(root) {
  const editions = (await api("GET", "/v1/reference/catalogue-editions")).items;
  const current = editions.find((e) => e.current);
  const edition = h("select", { id: "c-edition" }, editions.map((e) => option(e.code, `${e.code} ${e.name}${e.current ? "（现行）" : ""}`, current && current.code)));
  const region = h("select", { id: "c-region" }, option("", "全部地区"), Object.entries(REGION_LABELS).map(([code, name]) => option(code, name)));
  const urgency = h("select", { id: "c-urgency" }, option("", "全部紧缺程度"), Object.entries(URGENCY).map(([code, name]) => option(code, name)));
  const facts = h("p", { class: "muted", id: "c-facts" });
  const results = h("div", { id: "c-results", "aria-live": "polite" });
  const more = h("button", { type: "button", id: "c-more", hidden: true }, "下一页");
  const note = h("p", { role: "status" });
  let cursor = null;

  function describeEdition() {
    const chosen = editions.find((e) => e.code === edition.value);
    if (!chosen) return "";
    const published = chosen.posts_published
      ? `公布岗位 ${chosen.posts_published} 个（重度 ${chosen.severe_published ?? "?"}、中度 ${chosen.moderate_published ?? "?"}、轻度 ${chosen.mild_published ?? "?"}）`
      : "公布数量未知";
    return `${published}；本节点已导入 ${chosen.entries_imported} 条${chosen.confirmed ? "" : "（版本信息未经核实）"}`;
  }

  async function load(append) {
    note.textContent = "";
    const params = { edition: edition.value, region: region.value, urgency: urgency.value, limit: 50, cursor: append ? cursor : null };
    try {
      const page = await api("GET", `/v1/catalogue${query(params)}`);
      const rows = page.items.map((entry) =>
        h(
          "tr",
          {},
          h("td", {}, entry.cluster),
          h("td", {}, entry.post),
          h("td", {}, entry.title_series ? `职称系列 ${entry.title_series}` : `职业 ${entry.occupation_code}`),
          h("td", {}, URGENCY[entry.urgency] || entry.urgency),
          h("td", {}, entry.region ? REGION_LABELS[entry.region] || entry.region : "川渝两地"),
        ),
      );
      if (append) results.querySelector("tbody").append(...rows);
      else results.replaceChildren(table(["产业集群", "岗位", "所需职称 / 职业", "紧缺程度", "地区"], rows));
      if (!append && rows.length === 0) results.replaceChildren(h("p", { class: "muted" }, "没有符合条件的条目"));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      facts.textContent = describeEdition();
    } catch (error) {
      note.textContent = describeError(error);
    }
  }

  for (const control of [edition, region, urgency]) control.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));
  root.append(
    h(
      "section",
      { class: "panel", "aria-labelledby": "catalogue-title" },
      h("h2", { id: "catalogue-title" }, "急需紧缺人才目录"),
      h("p", { class: "muted" }, "条目由管理员在“导入”中按版本导入（类别：人才目录）；本系统不附带目录原文，标有“示例”的条目仅供演示。"),
      h("p", {}, h("label", { for: "c-edition" }, "版本", edition), h("label", { for: "c-region" }, "地区", region), h("label", { for: "c-urgency" }, "紧缺程度", urgency)),
      facts,
      note,
      results,
      more,
    ),
  );
  await load(false);
}
