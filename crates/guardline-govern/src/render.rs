//! Text and Markdown renderings of assessments and reports. Deterministic: the same assessment
//! and evidence give the same bytes (golden tests rely on it).

use crate::catalog::{AttestationMode, Catalog};
use crate::classify::{Assessment, Method};
use crate::report::{ControlStatus, Outcome, Report, Status};
use std::fmt::Write;

fn tier_label(c: &Catalog, t: &str) -> String {
    let (en, zh) = c.label("tiers", t);
    format!("{en} / {zh}")
}

fn method_text(m: &Method) -> String {
    match m {
        Method::Automatic { check } => check.clone(),
        Method::Attestation {
            mode,
            document,
            max_age_days,
        } => {
            let mut s = match mode {
                AttestationMode::Required => "attestation".to_string(),
                AttestationMode::Alternative => "attestation (alternative)".to_string(),
                AttestationMode::None => "no attestation".to_string(),
            };
            if *document {
                s.push_str(" with document");
            }
            if let Some(d) = max_age_days {
                s.push_str(&format!(", renewed every {d} days"));
            }
            s
        }
    }
}

fn framework(c: &Catalog, f: &str) -> String {
    c.label("frameworks", f).0
}

fn oversight_line(a: &Assessment) -> String {
    match a.oversight {
        None => {
            "none — the system is prohibited and may not be developed, provided or deployed".into()
        }
        Some(o) => {
            let mut s = format!("{o} (declared: {})", a.manifest.autonomy);
            if a.gap.is_some() {
                s.push_str(" — GAP: the declared oversight is weaker than required");
            }
            s
        }
    }
}

/// `guardline assess` for people.
pub fn assessment_text(a: &Assessment, c: &Catalog) -> String {
    let mut s = String::new();
    let m = &a.manifest;
    let _ = writeln!(s, "system      {}", m.name);
    let _ = writeln!(s, "manifest    sha256 {}", m.sha256);
    if a.prohibited {
        let _ = writeln!(
            s,
            "tier        {}  — PROHIBITED 禁止",
            tier_label(c, a.tier.as_str())
        );
    } else {
        let _ = writeln!(s, "tier        {}", tier_label(c, a.tier.as_str()));
    }
    let _ = writeln!(
        s,
        "guideline   {} (Table 1 alone)",
        tier_label(c, a.guideline_tier.as_str())
    );
    let _ = writeln!(
        s,
        "PCPD        {}",
        if a.pcpd_high_risk {
            "high risk under the model framework's test"
        } else {
            "not high risk under the model framework's test"
        }
    );
    let _ = writeln!(s, "oversight   {}", oversight_line(a));
    let _ = writeln!(s, "\nreasons");
    for r in &a.reasons {
        let effect = crate::report::effect_text(r);
        let _ = writeln!(
            s,
            "  {} [{}] {}",
            r.rule,
            framework(c, &r.framework),
            effect
        );
        let _ = writeln!(s, "    {}", r.en);
        let _ = writeln!(s, "    {}", r.zh);
        let _ = writeln!(s, "    clause: {}", r.clause);
    }
    if !a.facts.implied.is_empty() {
        let _ = writeln!(s, "\nimplied by the use cases");
        for i in &a.facts.implied {
            let _ = writeln!(s, "  {} {} ({})", i.field, i.value, i.use_case);
        }
    }
    let _ = writeln!(s, "\nobligations ({})", a.obligations.len());
    for o in &a.obligations {
        let ctl = &o.control;
        let _ = writeln!(s, "  {:<8} {}", ctl.id, ctl.title);
        let _ = writeln!(s, "  {:<8} {}", "", ctl.title_zh);
        let _ = writeln!(s, "  {:<8} basis: {}", "", ctl.basis);
        for (en, _) in &o.because {
            let _ = writeln!(s, "  {:<8} applies: {en}", "");
        }
        let methods: Vec<String> = o.methods().iter().map(method_text).collect();
        let _ = writeln!(s, "  {:<8} evidence: {}", "", methods.join("; "));
    }
    s
}

/// Escapes what would break a Markdown table cell or start markup; intraword underscores and
/// code spans (`guardline …`) are left as they read best.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

fn assessment_md_body(a: &Assessment, c: &Catalog, s: &mut String) {
    let m = &a.manifest;
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| System 系統 | {} |", md_escape(&m.name));
    let _ = writeln!(s, "| Manifest SHA-256 | `{}` |", m.sha256);
    let roles: Vec<String> = m.roles.iter().map(|r| c.label("roles", r).0).collect();
    let _ = writeln!(s, "| Roles 角色 | {} |", md_escape(&roles.join(", ")));
    let _ = writeln!(
        s,
        "| Sector 行業 | {} |",
        md_escape(&tier_or(c, "sectors", &m.sector))
    );
    let _ = writeln!(
        s,
        "| **Tier 風險等級** | **{}**{} |",
        tier_label(c, a.tier.as_str()),
        if a.prohibited {
            " — prohibited 禁止"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "| Guideline tier (Table 1) 指引表一等級 | {} |",
        tier_label(c, a.guideline_tier.as_str())
    );
    let _ = writeln!(
        s,
        "| PCPD high-risk test 私隱專員公署高風險測試 | {} |",
        if a.pcpd_high_risk {
            "yes 是"
        } else {
            "no 否"
        }
    );
    let _ = writeln!(
        s,
        "| Oversight 人類監督 | {} |",
        md_escape(&oversight_line(a))
    );
    let _ = writeln!(s, "\n## Reasons 理由\n");
    let _ = writeln!(s, "| Rule 規則 | Framework 框架 | Effect 影響 | Why 原因 | Clause 條文 |\n|---|---|---|---|---|");
    for r in &a.reasons {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {}<br>{} | {} |",
            md_escape(&r.rule),
            md_escape(&framework(c, &r.framework)),
            md_escape(&crate::report::effect_text(r)),
            md_escape(&r.en),
            md_escape(&r.zh),
            md_escape(&r.clause)
        );
    }
    if !a.facts.implied.is_empty() {
        let _ = write!(s, "\nImplied by the use cases 由用途推定: ");
        let items: Vec<String> = a
            .facts
            .implied
            .iter()
            .map(|i| format!("{} `{}` ({})", i.field, i.value, i.use_case))
            .collect();
        let _ = writeln!(s, "{}.", md_escape(&items.join("; ")));
    }
}

fn tier_or(c: &Catalog, field: &str, v: &str) -> String {
    let (en, zh) = c.label(field, v);
    format!("{en} / {zh}")
}

/// `guardline assess --format md`.
pub fn assessment_md(a: &Assessment, c: &Catalog) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Risk assessment 風險評估: {}\n",
        md_escape(&a.manifest.name)
    );
    assessment_md_body(a, c, &mut s);
    let _ = writeln!(s, "\n## Obligations 責任 ({})\n", a.obligations.len());
    let _ = writeln!(s, "| Control 控制 | Title 標題 | Basis 依據 | Applies because 適用原因 | Evidence 證據 |\n|---|---|---|---|---|");
    for o in &a.obligations {
        let because: Vec<String> = o.because.iter().map(|(en, _)| md_escape(en)).collect();
        let methods: Vec<String> = o
            .methods()
            .iter()
            .map(|m| md_escape(&method_text(m)))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {}<br>{} | {} | {} | {} |",
            o.control.id,
            md_escape(&o.control.title),
            md_escape(&o.control.title_zh),
            md_escape(&o.control.basis),
            because.join("<br>"),
            methods.join("<br>")
        );
    }
    s
}

fn status_cell(c: &Catalog, st: Status) -> String {
    let (en, zh) = c.label("statuses", st.as_str());
    format!("{en} {zh}")
}

fn evidence_cell(cs: &ControlStatus) -> String {
    let parts: Vec<String> = cs
        .pieces
        .iter()
        .filter(|p| p.shown())
        .map(|p| {
            let mark = match p.outcome {
                Outcome::Pass => "✓",
                Outcome::Fail => "✗",
                Outcome::Stale => "⌛",
                Outcome::Absent => "–",
            };
            let r = p
                .reference
                .as_ref()
                .map(|r| format!(" (ledger #{} {}…)", r.seq, r.short_hash()))
                .unwrap_or_default();
            format!(
                "{mark} {}: {}{r}",
                md_escape(&p.check),
                md_escape(&p.detail)
            )
        })
        .collect();
    parts.join("<br>")
}

/// `guardline report --format md`.
pub fn report_md(r: &Report, c: &Catalog) -> String {
    let a = &r.assessment;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Compliance report 合規報告: {}\n",
        md_escape(&a.manifest.name)
    );
    let _ = writeln!(
        s,
        "Generated 產生時間 {} under the Hong Kong Generative AI Technical and Application Guideline \
         (DPO, v1.1) 根據《香港生成式人工智能技術及應用指引》.\n",
        guardline_ledger::record::time_text(r.evidence.now)
    );
    assessment_md_body(a, c, &mut s);
    let _ = writeln!(s, "\n## Summary 摘要\n");
    let _ = writeln!(s, "| Status 狀態 | Controls 控制數目 |\n|---|---|");
    for (st, n) in r.counts() {
        let _ = writeln!(s, "| {} | {n} |", status_cell(c, st));
    }
    let l = &r.evidence.ledger;
    let _ = writeln!(s, "\n## Evidence ledger 證據分類帳\n");
    let head = l
        .head
        .as_ref()
        .map(|(seq, h)| format!("head #{seq} `{h}`"))
        .unwrap_or_else(|| "empty".into());
    let _ = writeln!(
        s,
        "{} records, {} exchanges; chain {}; {}.",
        l.events,
        l.exchanges,
        if l.intact {
            "verifies intact 驗證完整"
        } else {
            "DOES NOT VERIFY 驗證失敗"
        },
        head
    );
    if let Some(p) = &l.first_problem {
        let _ = writeln!(s, "\nFirst problem: {}", md_escape(p));
    }
    if let Some(rec) = &r.record {
        let _ = writeln!(
            s,
            "\nThis report is ledger record #{} `{}`.",
            rec.seq, rec.hash
        );
    }
    let _ = writeln!(s, "\n## Controls 控制\n");
    let _ = writeln!(
        s,
        "| Control 控制 | Title 標題 | Status 狀態 | Evidence 證據 |\n|---|---|---|---|"
    );
    for cs in r
        .controls
        .iter()
        .filter(|cs| cs.status != Status::NotApplicable)
    {
        let _ = writeln!(
            s,
            "| {} | {}<br>{} | **{}** | {} |",
            cs.control.id,
            md_escape(&cs.control.title),
            md_escape(&cs.control.title_zh),
            status_cell(c, cs.status),
            evidence_cell(cs)
        );
    }
    let na: Vec<&str> = r
        .controls
        .iter()
        .filter(|cs| cs.status == Status::NotApplicable)
        .map(|cs| cs.control.id.as_str())
        .collect();
    if !na.is_empty() {
        let _ = writeln!(s, "\nNot applicable 不適用: {}.", na.join(", "));
    }
    s
}
