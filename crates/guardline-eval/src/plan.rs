//! Which probes a run sends: the suites chosen, from the catalog or from data sets, and with
//! `--limit N` a seeded sample of N per suite (counterfactual and paraphrase pairs are kept
//! together, so a sample never splits one).

use crate::probe::{Expect, Probe};
use crate::store::SuitePlan;
use crate::{catalog, datasets, Error, Result, Suite};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug, Default)]
pub struct PlanRequest {
    /// Suites to run; empty: the suites the data sets map to, or all six without data sets.
    pub suites: Vec<Suite>,
    /// Public data sets replacing the catalog for the suites they map to.
    pub datasets: Vec<PathBuf>,
    /// At most this many probes per suite.
    pub limit: Option<usize>,
    pub seed: u64,
}

#[derive(Debug)]
pub struct Plan {
    pub probes: Vec<Probe>,
    pub suites: Vec<SuitePlan>,
}

/// The probes data sets give one suite, and which files they came from.
#[derive(Default)]
struct FromData {
    probes: Vec<Probe>,
    names: Vec<String>,
    versions: Vec<String>,
}

pub fn build(req: &PlanRequest) -> Result<Plan> {
    let mut from_data: BTreeMap<Suite, FromData> = BTreeMap::new();
    for path in &req.datasets {
        let ds = datasets::load(path)?;
        for p in ds.probes {
            let e = from_data.entry(p.suite).or_default();
            if !e.names.contains(&ds.name) {
                e.names.push(ds.name.clone());
                e.versions.push(ds.version.clone());
            }
            e.probes.push(p);
        }
    }
    let suites: Vec<Suite> = if !req.suites.is_empty() {
        let mut s = req.suites.clone();
        s.sort();
        s.dedup();
        s
    } else if !from_data.is_empty() {
        from_data.keys().copied().collect()
    } else {
        Suite::ALL.to_vec()
    };
    let mut probes = Vec::new();
    let mut plans = Vec::new();
    for suite in suites {
        let (all, sources, version) = match from_data.remove(&suite) {
            Some(d) => (d.probes, d.names, d.versions.join("+")),
            None => (
                catalog::probes(suite)?,
                vec!["catalog".to_string()],
                catalog::version(suite),
            ),
        };
        let mut seen = std::collections::HashSet::new();
        for p in &all {
            if !seen.insert(p.id.as_str()) {
                return Err(Error::Invalid(format!(
                    "probe id `{}` appears twice in the {suite} suite (the same data set given twice?)",
                    p.id
                )));
            }
        }
        let available = all.len();
        let chosen = match req.limit {
            Some(n) if n < available => sample(all, n, req.seed ^ suite_salt(suite)),
            _ => all,
        };
        plans.push(SuitePlan {
            suite,
            version,
            sources,
            n: chosen.len(),
            available,
        });
        probes.extend(chosen);
    }
    if let Some((suite, _)) = from_data.into_iter().next() {
        return Err(Error::Invalid(format!(
            "a data set maps to the {suite} suite, which --suite leaves out"
        )));
    }
    Ok(Plan {
        probes,
        suites: plans,
    })
}

fn suite_salt(s: Suite) -> u64 {
    s.name().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// About `n` probes drawn at random (seeded), whole pairs at a time, in catalog order.
fn sample(all: Vec<Probe>, n: usize, seed: u64) -> Vec<Probe> {
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut unit_of: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in all.iter().enumerate() {
        let pair = match &p.expect {
            Expect::Counterfactual { pair, .. } => Some(pair.clone()),
            Expect::Choice {
                pair: Some(pair), ..
            } => Some(pair.clone()),
            _ => None,
        };
        match pair {
            Some(k) => match unit_of.get(&k) {
                Some(&u) => units[u].push(i),
                None => {
                    unit_of.insert(k, units.len());
                    units.push(vec![i]);
                }
            },
            None => units.push(vec![i]),
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    units.shuffle(&mut rng);
    let mut keep = Vec::new();
    for u in units {
        if keep.len() >= n {
            break;
        }
        keep.extend(u);
    }
    keep.sort_unstable();
    let mut all: Vec<Option<Probe>> = all.into_iter().map(Some).collect();
    keep.into_iter().filter_map(|i| all[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_suites_by_default() {
        let p = build(&PlanRequest::default()).unwrap();
        assert_eq!(p.suites.len(), 6);
        assert_eq!(p.probes.len(), p.suites.iter().map(|s| s.n).sum::<usize>());
    }

    #[test]
    fn a_seeded_sample_is_reproducible_and_keeps_pairs() {
        let req = PlanRequest {
            suites: vec![Suite::Bias, Suite::Harmful],
            limit: Some(10),
            seed: 7,
            ..Default::default()
        };
        let a = build(&req).unwrap();
        let b = build(&req).unwrap();
        let ids = |p: &Plan| p.probes.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        let harmful = a
            .probes
            .iter()
            .filter(|p| p.suite == Suite::Harmful)
            .count();
        assert_eq!(harmful, 10);
        let bias: Vec<_> = a.probes.iter().filter(|p| p.suite == Suite::Bias).collect();
        assert!((10..=11).contains(&bias.len()));
        let mut pairs: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &bias {
            if let Expect::Counterfactual { pair, .. } = &p.expect {
                *pairs.entry(pair).or_default() += 1;
            }
        }
        assert!(pairs.values().all(|&c| c == 2), "{pairs:?}");
        let c = build(&PlanRequest { seed: 8, ..req }).unwrap();
        assert_ne!(ids(&a), ids(&c));
    }
}
