// The console's rules section (互认规则): every recognition rule; editing one shows, before it is saved, how
// many credentials of each kind it would recognise differently today (预览影响), then 保存.
import { KIND_LABELS, REGION_LABELS, api, describeError, formatDate, h, table } from "./api.js";

const KINDS = KIND_LABELS;
const MODES = { direct: "直接认可", delegated: "委托确认", mapped: "对应转换", reciprocal: "对等互认" };
const CRITERIA = {
  title_codes: "职称代码",
  title_series: "职称系列",
  title_levels: "职称等级",
  issuer_levels: "发证机构层级",
  skill_levels: "技能等级",
  card_system: "人才卡体系",
  card_classes: "人才卡类别",
  permit_classes: "工作许可类别",
};

// A rule scoped to an area applies only to verifications naming it (GET /v1/reference/areas).
function areaLabel(rule) {
  return rule.target_area ? `（限区域 ${rule.target_area}）` : "";
}

// Skill levels are codes whose numbers do not order them (1 is 一级/高级技师, 6 is 学徒工): the names and the order
// come from the code table, so a level an admin adds shows here without a change to this page.
async function loadSkillLevels() {
  const table = await api("GET", "/v1/reference/skill-levels");
  return table.items.slice().sort((a, b) => a.rank - b.rank);
}

function describeValue(name, value, levelNames) {
  const values = Array.isArray(value) ? value : [value];
  if (name === "skill_levels") return values.map((code) => (levelNames.has(code) ? `${levelNames.get(code)}（${code}）` : code)).join("、");
  return values.join("、");
}

function describeCriteria(criteria, levelNames) {
  return Object.entries(criteria)
    .map(([name, value]) => `${CRITERIA[name] || name}：${describeValue(name, value, levelNames)}`)
    .join("；");
}

function field(label, control) {
  return h("label", {}, label, control);
}

export async function render(root) {
  const list = h("section", { class: "panel", "aria-labelledby": "rules-title" });
  const editor = h("div", {});
  root.append(list, editor);
  const skillLevels = await loadSkillLevels();
  const levelNames = new Map(skillLevels.map((level) => [level.level, level.name]));

  async function showList() {
    const page = await api("GET", "/v1/admin/recognition-rules");
    const rows = page.items.map((rule) =>
      h(
        "tr",
        {},
        h("td", {}, rule.code),
        h("td", {}, KINDS[rule.kind] || rule.kind),
        h("td", {}, `${REGION_LABELS[rule.source_region] || rule.source_region} → ${REGION_LABELS[rule.target_region] || rule.target_region}${areaLabel(rule)}`),
        h("td", {}, describeCriteria(rule.criteria, levelNames)),
        h("td", {}, MODES[rule.mode] || rule.mode),
        h("td", {}, formatDate(rule.effective_from)),
        h("td", {}, rule.effective_until ? formatDate(rule.effective_until) : "长期"),
        h("td", {}, String(rule.priority)),
        h(
          "td",
          {},
          h("button", { type: "button", onclick: () => edit(rule), "aria-label": `编辑 ${rule.code}` }, "编辑"),
        ),
      ),
    );
    list.replaceChildren(
      h("h2", { id: "rules-title" }, "互认规则"),
      table(["规则编号", "类别", "认可方向", "条件", "方式", "生效日期", "失效日期", "优先级", ""], rows),
    );
  }

  function edit(rule) {
    const inputs = {
      mode: h("select", { id: "r-mode" }, Object.entries(MODES).map(([value, text]) => h("option", { value, selected: value === rule.mode }, text))),
      effective_from: h("input", { id: "r-from", type: "date", required: true, value: rule.effective_from }),
      effective_until: h("input", { id: "r-until", type: "date", value: rule.effective_until || "" }),
      priority: h("input", { id: "r-priority", type: "number", min: 0, max: 10000, value: rule.priority }),
      criteria: h("textarea", { id: "r-criteria", rows: 3, cols: 70 }, JSON.stringify(rule.criteria)),
      equivalent: h("textarea", { id: "r-equivalent", rows: 3, cols: 70 }, JSON.stringify(rule.equivalent)),
      basis: h("textarea", { id: "r-basis", rows: 2, cols: 70, required: true }, rule.basis),
    };
    const previewButton = h("button", { type: "button", class: "primary", id: "r-preview" }, "预览影响");
    const saveButton = h("button", { type: "submit", class: "danger", id: "r-save", disabled: true }, "保存");
    const cancel = h("button", { type: "button", onclick: () => editor.replaceChildren() }, "取消");
    const impact = h("div", { id: "r-impact", "aria-live": "polite" });
    const note = h("p", { role: "status" });
    let previewed = null; // the body the shown preview was computed for: saving needs a preview of this body

    function proposal() {
      const body = {
        kind: rule.kind,
        source_region: rule.source_region,
        target_region: rule.target_region,
        // A rule scoped to an area (a pilot zone) keeps it: the editor does not change where a rule applies.
        target_area: rule.target_area ?? null,
        mode: inputs.mode.value,
        criteria: JSON.parse(inputs.criteria.value),
        equivalent: JSON.parse(inputs.equivalent.value),
        basis: inputs.basis.value.trim(),
        effective_from: inputs.effective_from.value,
        effective_until: inputs.effective_until.value || null,
        priority: Number(inputs.priority.value),
        note: rule.note,
      };
      return body;
    }

    function fail(message) {
      note.textContent = message;
      note.className = "error";
    }

    for (const input of Object.values(inputs)) {
      input.addEventListener("input", () => {
        previewed = null;
        saveButton.disabled = true;
        impact.replaceChildren();
      });
    }

    previewButton.addEventListener("click", async () => {
      note.textContent = "";
      let body;
      try {
        body = proposal();
      } catch {
        fail("条件或对应结果不是有效的 JSON");
        return;
      }
      try {
        previewButton.disabled = true;
        const result = await api("POST", `/v1/admin/recognition-rules/${encodeURIComponent(rule.code)}/preview`, body);
        impact.replaceChildren(
          h("p", { id: "r-impact-total" }, `按 ${formatDate(result.on)} 计算，共有 ${result.total} 份有效证书的互认结果将改变：`),
          table(
            ["类别", "结果改变的证书数"],
            Object.entries(result.counts).map(([kind, count]) =>
              h("tr", {}, h("td", {}, KINDS[kind] || kind), h("td", { dataset: { kind } }, String(count))),
            ),
          ),
        );
        previewed = JSON.stringify(body);
        saveButton.disabled = false;
      } catch (error) {
        fail(describeError(error));
      } finally {
        previewButton.disabled = false;
      }
    });

    const form = h(
      "form",
      { class: "panel", id: "rule-editor", "aria-labelledby": "editor-title" },
      h("h2", { id: "editor-title" }, `编辑规则 ${rule.code}`),
      h("p", { class: "muted" }, `${KINDS[rule.kind]}，${REGION_LABELS[rule.source_region]} → ${REGION_LABELS[rule.target_region]}${areaLabel(rule)}`),
      h("div", {}, field("生效日期", inputs.effective_from), field("失效日期（当日起不再适用，留空为长期）", inputs.effective_until)),
      h("div", {}, field("方式", inputs.mode), field("优先级（数字小者优先）", inputs.priority)),
      h("div", {}, field("条件（JSON）", inputs.criteria)),
      rule.kind === "skill"
        ? h(
            "p",
            { class: "muted", id: "r-skill-levels" },
            `技能等级代码（由低到高）：${skillLevels.map((level) => `${level.name} ${level.level}`).join("、")}`,
          )
        : null,
      h("div", {}, field("对应结果（JSON）", inputs.equivalent)),
      h("div", {}, field("依据", inputs.basis)),
      h("div", { class: "pager" }, previewButton, saveButton, cancel),
      impact,
      note,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = proposal();
      if (previewed !== JSON.stringify(body)) {
        fail("请先预览影响");
        return;
      }
      try {
        saveButton.disabled = true;
        await api("PUT", `/v1/admin/recognition-rules/${encodeURIComponent(rule.code)}`, body);
        await showList(); // first, so that the list shows the saved rule once the page says it is saved
        editor.replaceChildren(h("p", { class: "panel ok", role: "status", id: "r-saved" }, `规则 ${rule.code} 已保存`));
      } catch (error) {
        fail(describeError(error));
        saveButton.disabled = false;
      }
    });
    editor.replaceChildren(form);
    inputs.effective_from.focus();
  }

  await showList();
}
