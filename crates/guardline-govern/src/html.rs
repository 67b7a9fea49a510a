//! The HTML report: one self-contained, bilingual (English and 繁體中文), print-friendly page with
//! inline CSS and inline SVG charts (a tier gauge and a status bar per governance dimension) —
//! the document a data protection officer hands to management or an auditor. Nothing is loaded
//! from the network; every value is escaped.

use crate::catalog::{Catalog, Tier};
use crate::classify::Method;
use crate::report::{Outcome, Report, Status};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn status_color(s: Status) -> &'static str {
    match s {
        Status::Met => "#2e7d32",
        Status::PartlyMet => "#f2a900",
        Status::Missing => "#c62828",
        Status::Expired => "#7b5ea7",
        Status::NotApplicable => "#9e9e9e",
    }
}

fn tier_color(t: Tier) -> &'static str {
    match t {
        Tier::Low => "#2e7d32",
        Tier::Limited => "#f2a900",
        Tier::High => "#e65100",
        Tier::Unacceptable => "#b71c1c",
    }
}

const CSS: &str = r#"
:root { --ink:#1b1f24; --muted:#5b6470; --rule:#d7dce2; --bg:#ffffff; --soft:#f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--bg);
  font: 14px/1.5 "Segoe UI", "Helvetica Neue", Arial, "Noto Sans CJK TC", "Noto Sans TC", "PingFang TC",
  "Microsoft JhengHei", "WenQuanYi Zen Hei", sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 32px 40px 48px; }
header { border-bottom: 3px solid var(--ink); padding-bottom: 12px; margin-bottom: 20px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h1 .zh, h2 .zh { font-weight: 500; color: var(--muted); margin-left: .4em; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
.meta { color: var(--muted); font-size: 12.5px; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
.grid { display: grid; grid-template-columns: 1.1fr 1fr; gap: 20px; align-items: start; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--rule); }
th { background: var(--soft); font-weight: 600; font-size: 12.5px; }
.facts th { width: 38%; background: none; color: var(--muted); font-weight: 500; }
.zh { color: #37404a; }
td .zh { display: block; font-size: 13px; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.callout { border-left: 5px solid #c62828; background: #fdecea; padding: 10px 14px; margin: 12px 0; }
.callout.ok { border-color: #2e7d32; background: #e8f5e9; }
.ev { list-style: none; margin: 0; padding: 0; font-size: 12.5px; }
.ev li { margin: 2px 0; }
.ev .o { display: inline-block; width: 1.2em; font-weight: 700; }
.o.pass { color: #2e7d32; } .o.fail { color: #c62828; } .o.stale { color: #7b5ea7; } .o.absent { color: #9e9e9e; }
.ref { color: var(--muted); font-size: 11.5px; }
.why { color: var(--muted); font-size: 12px; }
footer { margin-top: 32px; padding-top: 10px; border-top: 1px solid var(--rule); color: var(--muted); font-size: 12px; }
svg text { font-family: inherit; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { font-size: 10.5pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, .callout, figure { break-inside: avoid; }
  .grid { grid-template-columns: 1fr 1fr; }
}
@media (max-width: 760px) { .grid { grid-template-columns: 1fr; } main { padding: 16px; } }
"#;

fn h2(s: &mut String, en: &str, zh: &str) {
    let _ = writeln!(
        s,
        "<h2>{}<span class=\"zh\" lang=\"zh-Hant\">{}</span></h2>",
        esc(en),
        esc(zh)
    );
}

fn badge(c: &Catalog, st: Status) -> String {
    let (en, zh) = c.label("statuses", st.as_str());
    format!(
        "<span class=\"badge status-{}\" style=\"background:{}\">{} <span lang=\"zh-Hant\">{}</span></span>",
        st.as_str(),
        status_color(st),
        esc(&en),
        esc(&zh)
    )
}

/// The tier gauge: four segments, the effective tier marked ▼ and Table 1's marked ▽.
fn tier_gauge(c: &Catalog, tier: Tier, guideline: Tier) -> String {
    let (w, seg, gap) = (460.0, 110.0, 6.0);
    let mut s = format!(
        "<svg class=\"gauge\" role=\"img\" aria-label=\"risk tier {}\" viewBox=\"0 0 {w} 118\" width=\"{w}\" height=\"118\" xmlns=\"http://www.w3.org/2000/svg\">",
        tier.as_str()
    );
    for (i, t) in Tier::ALL.iter().enumerate() {
        let x = i as f64 * (seg + gap) + 4.0;
        let active = *t == tier;
        let (en, zh) = c.label("tiers", t.as_str());
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"28\" width=\"{seg}\" height=\"30\" rx=\"4\" fill=\"{}\" opacity=\"{}\"{}/>",
            tier_color(*t),
            if active { "1" } else { "0.28" },
            if active { " stroke=\"#1b1f24\" stroke-width=\"2\"" } else { "" }
        );
        let cx = x + seg / 2.0;
        let _ = write!(
            s,
            "<text x=\"{cx}\" y=\"78\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"{}\" fill=\"#1b1f24\">{}</text>\
             <text x=\"{cx}\" y=\"95\" text-anchor=\"middle\" font-size=\"12\" fill=\"#37404a\" lang=\"zh-Hant\">{}</text>",
            if active { 700 } else { 400 },
            esc(&en),
            esc(&zh)
        );
        if active {
            let _ = write!(
                s,
                "<path d=\"M{} 6 L{} 6 L{cx} 24 Z\" fill=\"#1b1f24\"/>",
                cx - 9.0,
                cx + 9.0
            );
        }
        if *t == guideline && guideline != tier {
            let _ = write!(
                s,
                "<path d=\"M{} 6 L{} 6 L{cx} 24 Z\" fill=\"none\" stroke=\"#1b1f24\" stroke-width=\"1.5\"/>",
                cx - 8.0,
                cx + 8.0
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"4\" y=\"114\" font-size=\"10.5\" fill=\"#5b6470\">▼ effective tier 實際等級   ▽ Table 1 alone 僅按表一</text></svg>"
    );
    s
}

/// One stacked bar per governance dimension: controls by status.
fn dimension_chart(c: &Catalog, r: &Report) -> String {
    let mut rows: BTreeMap<String, BTreeMap<Status, usize>> = BTreeMap::new();
    for cs in r
        .controls
        .iter()
        .filter(|cs| cs.status != Status::NotApplicable)
    {
        *rows
            .entry(cs.control.dimension.clone())
            .or_default()
            .entry(cs.status)
            .or_default() += 1;
    }
    let order = [
        "governance",
        "privacy",
        "ip",
        "crime",
        "reliability",
        "security",
        "sector",
    ];
    let dims: Vec<&str> = order
        .iter()
        .copied()
        .filter(|d| rows.contains_key(*d))
        .collect();
    let max = rows
        .values()
        .map(|m| m.values().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (label_w, bar_w, row_h) = (210.0, 330.0, 34.0);
    let h = dims.len() as f64 * row_h + 44.0;
    let mut s = format!(
        "<svg class=\"dimensions\" role=\"img\" aria-label=\"controls by status per dimension\" viewBox=\"0 0 590 {h}\" width=\"590\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, d) in dims.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let (en, zh) = c.label("dimensions", d);
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\" fill=\"#1b1f24\">{}</text><text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"#37404a\" lang=\"zh-Hant\">{}</text>",
            y + 12.0,
            esc(&en),
            y + 26.0,
            esc(&zh)
        );
        let mut x = label_w;
        let counts = &rows[*d];
        for st in Status::ALL {
            let n = counts.get(&st).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = bar_w * n as f64 / max as f64;
            let _ = write!(
                s,
                "<rect class=\"bar status-{}\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"20\" fill=\"{}\"><title>{} {}: {n}</title></rect>",
                st.as_str(),
                y + 4.0,
                status_color(st),
                esc(&en),
                st.as_str()
            );
            if w >= 16.0 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" fill=\"#fff\" text-anchor=\"middle\">{n}</text>",
                    x + w / 2.0,
                    y + 18.0
                );
            }
            x += w;
        }
    }
    // Legend.
    let ly = dims.len() as f64 * row_h + 18.0;
    let mut x = 0.0;
    for st in [
        Status::Met,
        Status::PartlyMet,
        Status::Missing,
        Status::Expired,
    ] {
        let (en, zh) = c.label("statuses", st.as_str());
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{ly}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#1b1f24\">{} {}</text>",
            status_color(st),
            x + 16.0,
            ly + 10.5,
            esc(&en),
            esc(&zh)
        );
        x += 140.0;
    }
    s.push_str("</svg>");
    s
}

fn method_html(m: &Method) -> String {
    match m {
        Method::Automatic { check } => esc(check),
        Method::Attestation { mode, document, .. } => {
            format!(
                "attestation ({}){}",
                mode.as_str(),
                if *document { " + document" } else { "" }
            )
        }
    }
}

/// `guardline report --format html`.
pub fn report_html(r: &Report, c: &Catalog) -> String {
    let a = &r.assessment;
    let m = &a.manifest;
    let mut s = String::with_capacity(64 * 1024);
    let generated = guardline_ledger::record::time_text(r.evidence.now);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"guardline report\">\n<title>Compliance report 合規報告 — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>",
        esc(&m.name)
    );
    let _ = writeln!(
        s,
        "<header><h1>Compliance report<span class=\"zh\" lang=\"zh-Hant\">合規報告</span></h1>\
         <div class=\"sys\" style=\"font-size:20px;font-weight:600\">{}</div>\
         <div class=\"meta\">Hong Kong Generative AI Technical and Application Guideline (Digital Policy Office, v1.1) · \
         <span lang=\"zh-Hant\">香港生成式人工智能技術及應用指引（數字政策辦公室）</span></div>\
         <div class=\"meta\">Generated 產生時間 {} · manifest SHA-256 <span class=\"mono\">{}</span></div></header>",
        esc(&m.name),
        esc(&generated),
        esc(&m.sha256)
    );

    // Risk tier.
    h2(&mut s, "Risk tier", "風險等級");
    let _ = write!(
        s,
        "<div class=\"grid\"><figure style=\"margin:0\">{}</figure><table class=\"facts\">",
        tier_gauge(c, a.tier, a.guideline_tier)
    );
    let (ten, tzh) = c.label("tiers", a.tier.as_str());
    let (gen, gzh) = c.label("tiers", a.guideline_tier.as_str());
    let fact = |s: &mut String, en: &str, zh: &str, v: String| {
        let _ = write!(
            s,
            "<tr><th>{}<span class=\"zh\" lang=\"zh-Hant\"> {}</span></th><td>{v}</td></tr>",
            esc(en),
            esc(zh)
        );
    };
    fact(
        &mut s,
        "Effective tier",
        "實際等級",
        format!(
            "<strong>{}</strong> <span lang=\"zh-Hant\">{}</span>",
            esc(&ten),
            esc(&tzh)
        ),
    );
    fact(
        &mut s,
        "Table 1 tier",
        "指引表一等級",
        format!("{} <span lang=\"zh-Hant\">{}</span>", esc(&gen), esc(&gzh)),
    );
    fact(
        &mut s,
        "PCPD high-risk test",
        "私隱專員公署高風險測試",
        if a.pcpd_high_risk {
            "holds <span lang=\"zh-Hant\">成立</span>".into()
        } else {
            "does not hold <span lang=\"zh-Hant\">不成立</span>".into()
        },
    );
    let (oen, ozh) = match a.oversight {
        Some(o) => c.label("autonomy", o.as_str()),
        None => ("none: prohibited".into(), "不適用：禁止".into()),
    };
    fact(
        &mut s,
        "Required oversight",
        "所需監督",
        format!("{} <span lang=\"zh-Hant\">{}</span>", esc(&oen), esc(&ozh)),
    );
    let (den, dzh) = c.label("autonomy", m.autonomy.as_str());
    fact(
        &mut s,
        "Declared oversight",
        "申報監督",
        format!("{} <span lang=\"zh-Hant\">{}</span>", esc(&den), esc(&dzh)),
    );
    let roles: Vec<String> = m
        .roles
        .iter()
        .map(|r| {
            let (e, z) = c.label("roles", r);
            format!("{} <span lang=\"zh-Hant\">{}</span>", esc(&e), esc(&z))
        })
        .collect();
    fact(&mut s, "Roles", "角色", roles.join(", "));
    for (en, zh, v) in [
        ("Description", "說明", &m.description),
        ("Owner", "負責人", &m.owner),
        ("Version", "版本", &m.version),
    ] {
        if let Some(v) = v {
            fact(&mut s, en, zh, esc(v));
        }
    }
    let (sen, szh) = c.label("sectors", &m.sector);
    fact(
        &mut s,
        "Sector",
        "行業",
        format!("{} <span lang=\"zh-Hant\">{}</span>", esc(&sen), esc(&szh)),
    );
    let ucs: Vec<String> = m
        .use_cases
        .iter()
        .map(|u| {
            let (e, z) = c.label("use_cases", u);
            format!("{} <span lang=\"zh-Hant\">{}</span>", esc(&e), esc(&z))
        })
        .collect();
    fact(&mut s, "Use cases", "用途", ucs.join("; "));
    s.push_str("</table></div>\n");
    if a.prohibited {
        s.push_str("<div class=\"callout\"><strong>Prohibited.</strong> Table 1 places this system at unacceptable risk: full prohibition, with legal liability for its development or deployment. \
                    <span lang=\"zh-Hant\">禁止：指引表一將此系統列為不可接受風險，全面禁止，開發或部署須負法律責任。</span></div>\n");
    } else if let Some(g) = &a.gap {
        let _ = writeln!(
            s,
            "<div class=\"callout\"><strong>Oversight gap.</strong> Declared {} is weaker than the required {} (demanded by {}). \
             <span lang=\"zh-Hant\">監督不足：申報的「{}」低於所需的「{}」。</span></div>",
            esc(&den),
            esc(&oen),
            esc(&g.demanded_by.join(", ")),
            esc(&dzh),
            esc(&ozh)
        );
    }

    // Reasons.
    h2(&mut s, "Why this tier", "等級理由");
    s.push_str("<table><thead><tr><th>Rule 規則</th><th>Reason 理由</th><th>Clause 條文</th></tr></thead><tbody>\n");
    for reason in &a.reasons {
        let (fen, fzh) = c.label("frameworks", &reason.framework);
        let _ = writeln!(
            s,
            "<tr><td><span class=\"mono\">{}</span><div class=\"why\">{} · <span lang=\"zh-Hant\">{}</span></div><div class=\"why\">{}</div></td>\
             <td>{}<span class=\"zh\" lang=\"zh-Hant\">{}</span></td><td class=\"why\">{}</td></tr>",
            esc(&reason.rule),
            esc(&fen),
            esc(&fzh),
            esc(&crate::report::effect_text(reason)),
            esc(&reason.en),
            esc(&reason.zh),
            esc(&reason.clause)
        );
    }
    s.push_str("</tbody></table>\n");
    if !a.facts.implied.is_empty() {
        let items: Vec<String> = a
            .facts
            .implied
            .iter()
            .map(|i| {
                let (e, z) = c.label(i.field, &i.value);
                format!(
                    "{} <span lang=\"zh-Hant\">{}</span> ({})",
                    esc(&e),
                    esc(&z),
                    esc(&i.use_case)
                )
            })
            .collect();
        let _ = writeln!(s, "<p class=\"why\">Implied by the use cases <span lang=\"zh-Hant\">由用途推定</span>: {}.</p>", items.join("; "));
    }

    // Summary.
    h2(&mut s, "Controls at a glance", "控制概覽");
    let counts = r.counts();
    s.push_str("<p>");
    for st in Status::ALL {
        let _ = write!(
            s,
            "{} <strong>{}</strong> &nbsp; ",
            badge(c, st),
            counts.get(&st).copied().unwrap_or(0)
        );
    }
    s.push_str("</p>\n<figure style=\"margin:0\">");
    s.push_str(&dimension_chart(c, r));
    s.push_str("</figure>\n");

    // Controls.
    h2(&mut s, "Obligations and evidence", "責任及證據");
    s.push_str("<table class=\"controls\"><thead><tr><th style=\"width:8%\">Control 控制</th><th style=\"width:32%\">Obligation 責任</th><th style=\"width:12%\">Status 狀態</th><th>Evidence 證據</th></tr></thead><tbody>\n");
    let obligations: BTreeMap<&str, &crate::classify::Obligation> = a
        .obligations
        .iter()
        .map(|o| (o.control.id.as_str(), o))
        .collect();
    for cs in r
        .controls
        .iter()
        .filter(|cs| cs.status != Status::NotApplicable)
    {
        let ctl = &cs.control;
        let because: Vec<String> = cs
            .because
            .iter()
            .map(|(en, zh)| format!("{} <span lang=\"zh-Hant\">{}</span>", esc(en), esc(zh)))
            .collect();
        let how = obligations
            .get(ctl.id.as_str())
            .map(|o| {
                o.methods()
                    .iter()
                    .map(method_html)
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default();
        let _ = write!(
            s,
            "<tr id=\"{}\"><td><strong class=\"mono\">{}</strong></td><td>{}<span class=\"zh\" lang=\"zh-Hant\">{}</span>\
             <div class=\"why\">{}</div><div class=\"why\">{}</div><div class=\"why\">Evidenced by 證據來源: {}</div></td><td>{}</td><td><ul class=\"ev\">",
            esc(&ctl.id),
            esc(&ctl.id),
            esc(&ctl.title),
            esc(&ctl.title_zh),
            esc(&ctl.basis),
            because.join("<br>"),
            how,
            badge(c, cs.status)
        );
        for p in cs.pieces.iter().filter(|p| p.shown()) {
            let (mark, class) = match p.outcome {
                Outcome::Pass => ("✓", "pass"),
                Outcome::Fail => ("✗", "fail"),
                Outcome::Stale => ("⌛", "stale"),
                Outcome::Absent => ("–", "absent"),
            };
            let reference = p
                .reference
                .as_ref()
                .map(|r| {
                    format!(
                        " <span class=\"ref\">ledger #{} <span class=\"mono\">{}…</span></span>",
                        r.seq,
                        esc(r.short_hash())
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                s,
                "<li><span class=\"o {class}\">{mark}</span><span class=\"mono\">{}</span> — {}{reference}</li>",
                esc(&p.check),
                esc(&p.detail)
            );
        }
        s.push_str("</ul></td></tr>\n");
    }
    s.push_str("</tbody></table>\n");
    let na: Vec<String> = r
        .controls
        .iter()
        .filter(|cs| cs.status == Status::NotApplicable)
        .map(|cs| format!("<span class=\"mono\">{}</span>", esc(&cs.control.id)))
        .collect();
    if !na.is_empty() {
        let _ = writeln!(s, "<p class=\"why\">Not applicable to this system <span lang=\"zh-Hant\">不適用於此系統</span>: {}.</p>", na.join(", "));
    }

    // Ledger.
    h2(&mut s, "Evidence ledger", "證據分類帳");
    let l = &r.evidence.ledger;
    let head = l
        .head
        .as_ref()
        .map(|(seq, h)| format!("#{seq} <span class=\"mono\">{}</span>", esc(h)))
        .unwrap_or_else(|| "— (empty)".into());
    let _ = write!(
        s,
        "<table class=\"facts\"><tr><th>Ledger <span class=\"zh\" lang=\"zh-Hant\">分類帳</span></th><td class=\"mono\">{}</td></tr>\
         <tr><th>Records <span class=\"zh\" lang=\"zh-Hant\">紀錄</span></th><td>{} ({} exchanges <span lang=\"zh-Hant\">次互動</span>)</td></tr>\
         <tr><th>Hash chain <span class=\"zh\" lang=\"zh-Hant\">雜湊鏈</span></th><td>{}</td></tr>\
         <tr><th>Head at verification <span class=\"zh\" lang=\"zh-Hant\">驗證時鏈首</span></th><td>{head}</td></tr>",
        esc(&l.location),
        l.events,
        l.exchanges,
        if l.intact {
            "verifies intact <span lang=\"zh-Hant\">驗證完整</span>".to_string()
        } else {
            format!("<strong style=\"color:#c62828\">does not verify <span lang=\"zh-Hant\">驗證失敗</span></strong>: {}", esc(l.first_problem.as_deref().unwrap_or("")))
        }
    );
    if let Some(rec) = &r.record {
        let _ = write!(
            s,
            "<tr><th>This report <span class=\"zh\" lang=\"zh-Hant\">本報告</span></th><td>ledger #{} <span class=\"mono\">{}</span></td></tr>",
            rec.seq,
            esc(&rec.hash)
        );
    }
    if let Some(corpus) = &r.evidence.corpus {
        let _ = write!(
            s,
            "<tr><th>RAG corpus scan <span class=\"zh\" lang=\"zh-Hant\">檢索語料掃描</span></th><td>{} file(s), {} bytes, {} finding(s){}</td></tr>",
            corpus.files,
            corpus.bytes,
            corpus.findings,
            if corpus.by_kind.is_empty() { String::new() } else {
                format!(": {}", esc(&corpus.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")))
            }
        );
    }
    s.push_str("</table>\n");

    let _ = write!(
        s,
        "<footer><p><strong>How to read this report.</strong> Tiers follow Guardline's published rules (the guideline gives no criteria): \
         the Table 1 tier of each use case, the PCPD model framework's high-risk test, the sector rules of Appendix 2.2.2, and the \
         stricter rule wins (§2.3.1). A control is <em>met</em> when every piece of its evidence passes, <em>partly met</em> when some do, \
         <em>expired</em> when its evidence has lapsed, <em>missing</em> when there is none or it fails. Ledger references can be checked \
         with <span class=\"mono\">guardline audit verify</span>.</p>\
         <p lang=\"zh-Hant\"><strong>閱讀說明。</strong>指引並無訂明分級準則，等級按 Guardline 公開的規則決定：各用途在指引表一的等級、私隱專員公署模範框架的高風險測試、\
         附錄2.2.2的行業規則，並以較嚴格者為準（§2.3.1）。所有證據均通過為「已符合」，部分通過為「部分符合」，證據失效為「已過期」，\
         沒有證據或證據不合格為「欠缺」。分類帳參照可用 <span class=\"mono\">guardline audit verify</span> 核實。</p></footer>\n</main>\n</body>\n</html>\n"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_escaped_in_the_page() {
        let c = Catalog::embedded().unwrap();
        let m = crate::Manifest::parse(
            "[system]\nname = \"<script>alert(1)</script>\"\ndescription = \"a & b \\\"q\\\"\"\nroles = [\"provider\"]\nsector = \"general\"\nuse_cases = [\"spam_filter\"]\n[impact]\nautonomy = \"human_in_command\"\n",
            "m.toml",
        )
        .unwrap();
        let ev = crate::EvidenceSet::empty(chrono::Utc::now());
        let r = crate::Report::build(crate::classify(&m, c), ev, c);
        let page = report_html(&r, c);
        assert!(!page.contains("<script"), "unescaped name");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a &amp; b &quot;q&quot;"));
        assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
        let md = crate::render::report_md(&r, c);
        assert!(!md.contains("<script"));
    }

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(esc("中文\u{7}"), "中文\u{FFFD}");
    }
}
