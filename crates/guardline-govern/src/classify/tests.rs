//! Table tests over the guideline's own examples (Table 1) and their neighbours, the PCPD
//! overlay, the sector overlays, and gaps between declared and required oversight.

use super::*;
use crate::catalog::Catalog;
use crate::manifest::Manifest;

struct Case {
    name: &'static str,
    roles: &'static [&'static str],
    sector: &'static str,
    use_cases: &'static [&'static str],
    modalities: &'static [&'static str],
    affected: &'static [&'static str],
    decisions: &'static [&'static str],
    autonomy: &'static str,
    data: &'static [&'static str],
}

const BASE: Case = Case {
    name: "",
    roles: &["provider"],
    sector: "general",
    use_cases: &[],
    modalities: &["text"],
    affected: &[],
    decisions: &[],
    autonomy: "human_in_command",
    data: &[],
};

fn list(v: &[&str]) -> String {
    let q: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", q.join(", "))
}

fn manifest(c: &Case) -> Manifest {
    let text = format!(
        "[system]\nname = \"{}\"\nroles = {}\nsector = \"{}\"\nuse_cases = {}\nmodalities = {}\n\
         [impact]\naffected = {}\ndecisions = {}\nautonomy = \"{}\"\n[data]\ncategories = {}\n",
        c.name,
        list(c.roles),
        c.sector,
        list(c.use_cases),
        list(c.modalities),
        list(c.affected),
        list(c.decisions),
        c.autonomy,
        list(c.data)
    );
    Manifest::parse(&text, c.name).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

fn assess(c: &Case) -> Assessment {
    classify(&manifest(c), Catalog::embedded().unwrap())
}

struct Expect {
    tier: Tier,
    guideline: Tier,
    oversight: Option<Oversight>,
    gap: bool,
    rules: &'static [&'static str],
    controls: &'static [&'static str],
    absent: &'static [&'static str],
}

fn check(c: &Case, e: &Expect) {
    let a = assess(c);
    let rules: Vec<&str> = a.reasons.iter().map(|r| r.rule.as_str()).collect();
    let ids = a.control_ids();
    let ctx = format!(
        "{}: tier {} guideline {} oversight {:?} rules {rules:?} controls {ids:?}",
        c.name, a.tier, a.guideline_tier, a.oversight
    );
    assert_eq!(a.tier, e.tier, "{ctx}");
    assert_eq!(a.guideline_tier, e.guideline, "{ctx}");
    assert_eq!(a.oversight, e.oversight, "{ctx}");
    assert_eq!(a.gap.is_some(), e.gap, "{ctx}");
    assert_eq!(a.prohibited, e.tier == Tier::Unacceptable, "{ctx}");
    for r in e.rules {
        assert!(
            rules
                .iter()
                .any(|x| x == r || x.starts_with(&format!("{r}:"))),
            "{ctx}: rule {r} did not fire"
        );
    }
    for id in e.controls {
        assert!(ids.contains(id), "{ctx}: {id} should apply");
    }
    for id in e.absent {
        assert!(!ids.contains(id), "{ctx}: {id} should not apply");
    }
    // Every reason cites a clause and says why in both languages, placeholders filled.
    for r in &a.reasons {
        assert!(!r.clause.is_empty() && !r.en.is_empty() && !r.zh.is_empty());
        assert!(
            !r.en.contains('{') && !r.zh.contains('{'),
            "{}: unfilled {}",
            r.rule,
            r.en
        );
    }
    for o in &a.obligations {
        for (en, zh) in &o.because {
            assert!(
                !en.contains('{') && !zh.contains('{'),
                "{}: unfilled {en}",
                o.control.id
            );
        }
    }
}

use Oversight::{HumanInCommand as HIC, HumanInTheLoop as HITL, HumanOutOfTheLoop as HOOTL};

#[test]
fn guideline_examples_and_neighbours() {
    let cases: Vec<(Case, Expect)> = vec![
        // Table 1 low: spam filters.
        (
            Case {
                name: "spam filter",
                use_cases: &["spam_filter"],
                affected: &["customers"],
                autonomy: "human_out_of_the_loop",
                data: &["personal"],
                ..BASE
            },
            Expect {
                tier: Tier::Low,
                guideline: Tier::Low,
                oversight: Some(HOOTL),
                gap: false,
                rules: &["T1-USE-CASE"],
                controls: &["TIER-LO", "MF-01", "MF-03", "PDP-01", "REL-09"],
                absent: &["TIER-L1", "TIER-H1", "CRM-02", "SCT-FIN"],
            },
        ),
        // Table 1 low: creative tools; images bring watermarks.
        (
            Case {
                name: "creative tool",
                use_cases: &["creative_generation"],
                modalities: &["text", "image"],
                affected: &["public"],
                autonomy: "human_out_of_the_loop",
                ..BASE
            },
            Expect {
                tier: Tier::Low,
                guideline: Tier::Low,
                oversight: Some(HOOTL),
                gap: false,
                rules: &["T1-USE-CASE"],
                controls: &["TIER-LO", "CRM-03", "IP-02", "CRM-01"],
                absent: &["PDP-01", "TIER-L1"],
            },
        ),
        // Table 1 limited: recruitment tools — but high under PCPD (employment): stricter wins.
        (
            Case {
                name: "recruitment tool",
                use_cases: &["recruitment_screening"],
                autonomy: "human_in_command",
                data: &["personal"],
                ..BASE
            },
            Expect {
                tier: Tier::High,
                guideline: Tier::Limited,
                oversight: Some(HITL),
                gap: true,
                rules: &["T1-USE-CASE", "PCPD-HIGH-RISK"],
                controls: &["TIER-H1", "TIER-H2", "TIER-L1", "REL-07", "PDP-01"],
                absent: &["TIER-LO"],
            },
        ),
        // ... and with a human in the loop, no gap.
        (
            Case {
                name: "recruitment tool, human in the loop",
                use_cases: &["recruitment_screening"],
                autonomy: "human_in_the_loop",
                ..BASE
            },
            Expect {
                tier: Tier::High,
                guideline: Tier::Limited,
                oversight: Some(HITL),
                gap: false,
                rules: &["PCPD-HIGH-RISK"],
                controls: &["TIER-H1"],
                absent: &[],
            },
        ),
        // Table 1 limited: educational AI.
        (
            Case {
                name: "educational AI",
                sector: "education",
                use_cases: &["education_tutoring"],
                affected: &["students"],
                ..BASE
            },
            Expect {
                tier: Tier::Limited,
                guideline: Tier::Limited,
                oversight: Some(HIC),
                gap: false,
                rules: &["T1-USE-CASE", "SECTOR-EDUCATION"],
                controls: &["TIER-L1", "TIER-L2", "TIER-L3", "SCT-EDU", "CRM-02"],
                absent: &["TIER-H1", "CRM-04", "TIER-LO"],
            },
        ),
        // A tutor for minors: minors' protection, and oversight cannot be dropped.
        (
            Case {
                name: "tutor for minors",
                sector: "education",
                use_cases: &["education_tutoring"],
                affected: &["minors"],
                autonomy: "human_out_of_the_loop",
                data: &["personal", "children"],
                ..BASE
            },
            Expect {
                tier: Tier::Limited,
                guideline: Tier::Limited,
                oversight: Some(HIC),
                gap: true,
                rules: &["G-MINORS", "SECTOR-EDUCATION"],
                controls: &["CRM-04", "SCT-EDU", "PDP-01", "PDP-05"],
                absent: &["TIER-H1"],
            },
        ),
        // Grading decides on education prospects: PCPD high, and App. 2.2.2 human review.
        (
            Case {
                name: "AI grading",
                sector: "education",
                use_cases: &["education_grading"],
                ..BASE
            },
            Expect {
                tier: Tier::High,
                guideline: Tier::Limited,
                oversight: Some(HITL),
                gap: true,
                rules: &["PCPD-HIGH-RISK", "SECTOR-EDUCATION-GRADING"],
                controls: &["TIER-H2", "REL-07", "SCT-EDU"],
                absent: &[],
            },
        ),
        // Table 1 high: healthcare diagnostics (the example manifest).
        (
            Case {
                name: "healthcare diagnostics",
                sector: "healthcare",
                use_cases: &["medical_diagnosis"],
                affected: &["patients"],
                decisions: &["access_to_services"],
                data: &["personal", "health", "hk_id"],
                ..BASE
            },
            Expect {
                tier: Tier::High,
                guideline: Tier::High,
                oversight: Some(HITL),
                gap: true,
                rules: &[
                    "T1-USE-CASE",
                    "T1-SAFETY",
                    "PCPD-HIGH-RISK",
                    "SECTOR-HEALTHCARE",
                ],
                controls: &[
                    "TIER-H1", "TIER-H2", "TIER-H3", "SCT-HLT", "PDP-01", "SEC-05", "REL-01",
                ],
                absent: &["SCT-FIN", "TIER-LO"],
            },
        ),
        // Table 1 high: autonomous vehicles.
        (
            Case {
                name: "autonomous vehicle",
                roles: &["developer"],
                sector: "logistics",
                use_cases: &["autonomous_driving"],
                modalities: &["video"],
                autonomy: "human_out_of_the_loop",
                ..BASE
            },
            Expect {
                tier: Tier::High,
                guideline: Tier::High,
                oversight: Some(HITL),
                gap: true,
                rules: &["T1-USE-CASE", "T1-SAFETY", "SECTOR-INDUSTRY"],
                controls: &["TIER-H1", "REL-06", "CRM-02", "IP-01"],
                absent: &["USR-01"],
            },
        ),
        // Table 1 unacceptable: subliminal manipulation.
        (
            Case {
                name: "subliminal manipulation",
                use_cases: &["subliminal_manipulation", "creative_generation"],
                affected: &["public"],
                ..BASE
            },
            Expect {
                tier: Tier::Unacceptable,
                guideline: Tier::Unacceptable,
                oversight: None,
                gap: false,
                rules: &["T1-USE-CASE"],
                controls: &["TIER-U", "MF-01"],
                absent: &["TIER-LO", "CRM-01", "MF-03", "IP-02"],
            },
        ),
        // Not in Table 1, placed there by Guardline's rule: social scoring.
        (
            Case {
                name: "social scoring",
                roles: &["developer", "provider"],
                sector: "public_service",
                use_cases: &["social_scoring"],
                ..BASE
            },
            Expect {
                tier: Tier::Unacceptable,
                guideline: Tier::Unacceptable,
                oversight: None,
                gap: false,
                rules: &["T1-USE-CASE", "PCPD-HIGH-RISK"],
                controls: &["TIER-U"],
                absent: &["TIER-H1"],
            },
        ),
        // A bank chatbot: limited, HKMA's human review, HKID and finance duties.
        (
            Case {
                name: "bank chatbot",
                sector: "finance",
                use_cases: &["customer_service_chat"],
                affected: &["customers"],
                data: &["personal", "hk_id", "financial"],
                ..BASE
            },
            Expect {
                tier: Tier::Limited,
                guideline: Tier::Limited,
                oversight: Some(HIC),
                gap: false,
                rules: &["T1-USE-CASE", "SECTOR-FINANCE"],
                controls: &[
                    "SCT-FIN", "PDP-01", "PDP-02", "PDP-03", "PDP-05", "TIER-L1", "SEC-02",
                ],
                absent: &["TIER-H1", "SCT-HLT"],
            },
        ),
        // ... run with no human in command: a gap the sector rule creates.
        (
            Case {
                name: "bank chatbot, unattended",
                sector: "finance",
                use_cases: &["customer_service_chat"],
                affected: &["customers"],
                autonomy: "human_out_of_the_loop",
                ..BASE
            },
            Expect {
                tier: Tier::Limited,
                guideline: Tier::Limited,
                oversight: Some(HIC),
                gap: true,
                rules: &["SECTOR-FINANCE"],
                controls: &["SCT-FIN"],
                absent: &[],
            },
        ),
        // ... deciding on loans: access to services, so PCPD high.
        (
            Case {
                name: "bank loan assistant",
                sector: "finance",
                use_cases: &["credit_scoring"],
                affected: &["customers"],
                autonomy: "human_in_the_loop",
                ..BASE
            },
            Expect {
                tier: Tier::High,
                guideline: Tier::Limited,
                oversight: Some(HITL),
                gap: false,
                rules: &["PCPD-HIGH-RISK", "SECTOR-FINANCE"],
                controls: &["SCT-FIN", "TIER-H1", "REL-07", "PDP-01"],
                absent: &[],
            },
        ),
        // An internal code assistant, used by staff: low, the user's duties.
        (
            Case {
                name: "internal code assistant",
                roles: &["user"],
                use_cases: &["code_assistant"],
                affected: &["employees"],
                autonomy: "human_out_of_the_loop",
                data: &["confidential"],
                ..BASE
            },
            Expect {
                tier: Tier::Low,
                guideline: Tier::Low,
                oversight: Some(HOOTL),
                gap: false,
                rules: &["T1-USE-CASE"],
                controls: &["USR-01", "USR-02", "TIER-LO", "SEC-05"],
                absent: &["CRM-01", "REL-09", "SCT-FIN", "IP-02", "PDP-01", "TIER-L1"],
            },
        ),
    ];
    for (c, e) in &cases {
        check(c, e);
    }
}

#[test]
fn pcpd_overlay_raises_a_low_use_case() {
    // Table 1 says low; its output decides on people's legal rights: PCPD high, stricter wins.
    check(
        &Case {
            name: "spam filter that suspends accounts",
            use_cases: &["spam_filter"],
            decisions: &["legal_rights"],
            autonomy: "human_in_the_loop",
            ..BASE
        },
        &Expect {
            tier: Tier::High,
            guideline: Tier::Low,
            oversight: Some(HITL),
            gap: false,
            rules: &["PCPD-HIGH-RISK"],
            controls: &["TIER-H1", "REL-07"],
            absent: &["TIER-LO"],
        },
    );
    // Biometric data alone is PCPD high.
    check(
        &Case {
            name: "office access",
            use_cases: &["document_summarisation"],
            data: &["biometric"],
            autonomy: "human_in_the_loop",
            ..BASE
        },
        &Expect {
            tier: Tier::High,
            guideline: Tier::Low,
            oversight: Some(HITL),
            gap: false,
            rules: &["PCPD-BIOMETRIC"],
            controls: &["SEC-05"],
            absent: &[],
        },
    );
    let a = assess(&Case {
        name: "x",
        use_cases: &["spam_filter"],
        decisions: &["employment"],
        ..BASE
    });
    assert!(a.pcpd_high_risk);
    let a = assess(&Case {
        name: "x",
        use_cases: &["spam_filter"],
        ..BASE
    });
    assert!(!a.pcpd_high_risk);
}

#[test]
fn sector_overlays() {
    // Healthcare with patients: limited even for a chatbot that is otherwise only limited…
    check(
        &Case {
            name: "clinic appointments bot",
            sector: "healthcare",
            use_cases: &["customer_service_chat"],
            affected: &["patients"],
            ..BASE
        },
        &Expect {
            tier: Tier::Limited,
            guideline: Tier::Limited,
            oversight: Some(HIC),
            gap: false,
            rules: &["SECTOR-HEALTHCARE"],
            controls: &["SCT-HLT"],
            absent: &[],
        },
    );
    // … and a summariser (Table 1 low) handling health data is raised to limited by App. 2.2.2.
    check(
        &Case {
            name: "discharge summary drafts",
            sector: "healthcare",
            use_cases: &["document_summarisation"],
            data: &["health"],
            ..BASE
        },
        &Expect {
            tier: Tier::Limited,
            guideline: Tier::Low,
            oversight: Some(HIC),
            gap: false,
            rules: &["SECTOR-HEALTHCARE"],
            controls: &["SCT-HLT", "TIER-L1", "SEC-05"],
            absent: &["TIER-LO"],
        },
    );
    // The same summariser in general use stays low.
    check(
        &Case {
            name: "meeting notes",
            use_cases: &["document_summarisation"],
            autonomy: "human_out_of_the_loop",
            ..BASE
        },
        &Expect {
            tier: Tier::Low,
            guideline: Tier::Low,
            oversight: Some(HOOTL),
            gap: false,
            rules: &[],
            controls: &["TIER-LO"],
            absent: &["SCT-HLT"],
        },
    );
    // A newsroom: editorial review before publishing (human in the loop).
    check(
        &Case {
            name: "newsroom drafts",
            sector: "journalism",
            use_cases: &["news_generation"],
            affected: &["public"],
            ..BASE
        },
        &Expect {
            tier: Tier::Limited,
            guideline: Tier::Limited,
            oversight: Some(HITL),
            gap: true,
            rules: &["SECTOR-JOURNALISM"],
            controls: &["SCT-JRN", "REL-01", "IP-02"],
            absent: &[],
        },
    );
    // Legal research with confidential matters.
    check(
        &Case {
            name: "case law assistant",
            sector: "legal",
            use_cases: &["legal_research"],
            data: &["confidential"],
            ..BASE
        },
        &Expect {
            tier: Tier::Limited,
            guideline: Tier::Limited,
            oversight: Some(HIC),
            gap: false,
            rules: &["SECTOR-LEGAL"],
            controls: &["SCT-LEG", "REL-01", "SEC-05"],
            absent: &[],
        },
    );
    // A retail chatbot gets the hand-off rule and the sector control.
    check(
        &Case {
            name: "shop assistant",
            sector: "retail",
            use_cases: &["customer_service_chat"],
            affected: &["customers"],
            ..BASE
        },
        &Expect {
            tier: Tier::Limited,
            guideline: Tier::Limited,
            oversight: Some(HIC),
            gap: false,
            rules: &["SECTOR-CUSTOMER-SERVICE"],
            controls: &["SCT-SVC"],
            absent: &["SCT-FIN"],
        },
    );
    // Industry with safety decisions: engineer sign-off.
    check(
        &Case {
            name: "plant controller",
            sector: "industry",
            use_cases: &["critical_infrastructure_control"],
            autonomy: "human_in_the_loop",
            ..BASE
        },
        &Expect {
            tier: Tier::High,
            guideline: Tier::High,
            oversight: Some(HITL),
            gap: false,
            rules: &["SECTOR-INDUSTRY"],
            controls: &["SCT-IND", "TIER-H1"],
            absent: &[],
        },
    );
}

#[test]
fn oversight_gaps_name_what_demands_them() {
    let a = assess(&Case {
        name: "x",
        sector: "healthcare",
        use_cases: &["medical_diagnosis"],
        ..BASE
    });
    let g = a.gap.unwrap();
    assert_eq!((g.declared, g.required), (HIC, HITL));
    assert!(
        g.demanded_by.iter().any(|d| d == "PCPD-OVERSIGHT:high"),
        "{:?}",
        g.demanded_by
    );

    // A stronger declaration than required is no gap.
    let a = assess(&Case {
        name: "x",
        use_cases: &["spam_filter"],
        autonomy: "human_in_the_loop",
        ..BASE
    });
    assert!(a.gap.is_none());
    assert_eq!(a.oversight, Some(HOOTL));

    // Gap by a rule's own demand, not the tier's.
    let a = assess(&Case {
        name: "x",
        sector: "journalism",
        use_cases: &["news_generation"],
        ..BASE
    });
    assert_eq!(a.gap.unwrap().demanded_by, ["SECTOR-JOURNALISM"]);
}

#[test]
fn implied_facts_are_reported() {
    let a = assess(&Case {
        name: "x",
        use_cases: &["recruitment_screening"],
        ..BASE
    });
    assert!(a.facts.implied.iter().any(|i| i.field == "decisions"
        && i.value == "employment"
        && i.use_case == "recruitment_screening"));
    // Declared values are not reported as implied.
    let a = assess(&Case {
        name: "x",
        use_cases: &["recruitment_screening"],
        decisions: &["employment"],
        ..BASE
    });
    assert!(!a.facts.implied.iter().any(|i| i.value == "employment"));
}

#[test]
fn json_has_the_contract_keys() {
    let a = assess(&Case {
        name: "x",
        sector: "finance",
        use_cases: &["customer_service_chat"],
        affected: &["customers"],
        data: &["hk_id"],
        ..BASE
    });
    let j = a.to_json(Catalog::embedded().unwrap());
    for k in [
        "tier",
        "guideline_tier",
        "oversight",
        "reasons",
        "obligations",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
    for r in j["reasons"].as_array().unwrap() {
        assert!(r["rule"].is_string() && r["clause"].is_string());
    }
    for o in j["obligations"].as_array().unwrap() {
        for k in ["control", "title", "basis", "evidence"] {
            assert!(o.get(k).is_some(), "{k}");
        }
    }
    let pdp01 = j["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["control"] == "PDP-01")
        .unwrap();
    assert_eq!(pdp01["evidence"][0]["check"], "gateway.request_privacy");
    assert_eq!(pdp01["evidence"][1]["method"], "attestation");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Whatever the manifest, the invariants of the stricter-rule principle hold.
    #[test]
    fn invariants(
        roles in proptest::sample::subsequence(vec!["developer", "provider", "user"], 1..=3),
        sector in proptest::sample::select(vec!["finance", "healthcare", "legal", "education", "journalism", "tourism", "retail", "logistics", "industry", "public_service", "general"]),
        uc in proptest::sample::subsequence(Catalog::embedded().unwrap().use_cases.keys().map(|s| s.as_str()).collect::<Vec<_>>(), 1..=3),
        affected in proptest::sample::subsequence(vec!["public", "customers", "employees", "patients", "students", "minors", "job_applicants"], 0..=3),
        decisions in proptest::sample::subsequence(vec!["legal_rights", "employment", "education", "access_to_services", "safety"], 0..=2),
        data in proptest::sample::subsequence(vec!["personal", "hk_id", "health", "biometric", "financial", "children", "confidential"], 0..=3),
        autonomy in proptest::sample::select(vec!["human_in_the_loop", "human_in_command", "human_out_of_the_loop"]),
    ) {
        let leak = |v: Vec<&str>| -> &'static [&'static str] { Box::leak(v.into_iter().map(|s| &*Box::leak(s.to_string().into_boxed_str())).collect::<Vec<&'static str>>().into_boxed_slice()) };
        let c = Case { name: "p", roles: leak(roles), sector: Box::leak(sector.to_string().into_boxed_str()), use_cases: leak(uc), modalities: &["text"], affected: leak(affected), decisions: leak(decisions), autonomy: Box::leak(autonomy.to_string().into_boxed_str()), data: leak(data) };
        let a = assess(&c);
        let cat = Catalog::embedded().unwrap();
        proptest::prop_assert!(a.tier >= a.guideline_tier);
        let uc_max = a.manifest.use_cases.iter().map(|u| cat.use_cases[u].tier).max().unwrap();
        proptest::prop_assert!(a.guideline_tier >= uc_max);
        proptest::prop_assert_eq!(a.prohibited, a.tier == Tier::Unacceptable);
        proptest::prop_assert_eq!(a.oversight.is_none(), a.prohibited);
        if let Some(o) = a.oversight {
            proptest::prop_assert!(o >= cat.oversight_by_tier.for_tier(a.tier).unwrap());
            proptest::prop_assert_eq!(a.gap.is_some(), a.manifest.autonomy < o);
        }
        if a.pcpd_high_risk { proptest::prop_assert!(a.tier >= Tier::High); }
        proptest::prop_assert!(a.obligation("MF-01").is_some());
        if a.prohibited {
            proptest::prop_assert_eq!(a.control_ids(), vec!["MF-01", "TIER-U"]);
        } else {
            // Exactly one of the tier's own controls.
            let tier_control = match a.tier { Tier::Low => "TIER-LO", Tier::Limited => "TIER-L3", _ => "TIER-H1" };
            proptest::prop_assert!(a.obligation(tier_control).is_some());
            proptest::prop_assert_eq!(a.obligation("TIER-LO").is_some(), a.tier == Tier::Low);
        }
    }
}
