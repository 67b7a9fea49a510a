//! Nearest valid value for a misspelling.

/// The closest of `options` to `given`, if it is close enough to be what was meant.
pub fn nearest<'a>(given: &str, options: &[&'a str]) -> Option<&'a str> {
    let g = given.trim().to_lowercase().replace(['-', ' '], "_");
    let mut best: Option<(f64, &'a str)> = None;
    for &o in options {
        if o == g {
            return Some(o);
        }
        let score = strsim::jaro_winkler(&g, o);
        let dist = strsim::damerau_levenshtein(&g, o);
        // Close in edit distance relative to length, or sharing a strong prefix.
        let near = dist <= (o.len() / 3).max(2) || score >= 0.88;
        let contains = g.len() >= 4 && (o.contains(&g) || g.contains(o));
        if near || contains {
            let s = if contains { score.max(0.9) } else { score };
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, o));
            }
        }
    }
    best.map(|(_, o)| o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_what_was_meant() {
        let sectors = ["finance", "healthcare", "legal", "education", "general"];
        assert_eq!(nearest("helthcare", &sectors), Some("healthcare"));
        assert_eq!(nearest("Finance", &sectors), Some("finance"));
        assert_eq!(nearest("health", &sectors), Some("healthcare"));
        assert_eq!(nearest("xyzzy", &sectors), None);
        let keys = ["name", "roles", "sector", "use_cases", "modalities"];
        assert_eq!(nearest("secotr", &keys), Some("sector"));
        assert_eq!(nearest("use-cases", &keys), Some("use_cases"));
        assert_eq!(nearest("usecases", &keys), Some("use_cases"));
        assert_eq!(nearest("role", &keys), Some("roles"));
    }
}
