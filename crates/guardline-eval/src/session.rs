//! A run from start (or resume) to result: send what is not answered yet, ask the judge, score,
//! compute the metrics, write `result.json`.

use crate::judge::{self, JudgeVerdict};
use crate::plan::Plan;
use crate::report::{self, RunResult};
use crate::runner::{send_probes, AskError, Http, Progress};
use crate::score::Scorer;
use crate::store::{new_run_id, now, Attempt, EndpointSpec, Manifest, RunStore};
use crate::target::{Endpoint, Sampling};
use crate::{Error, Probe, Result};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::Path;

/// What to record about a new run besides its plan.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub system: Option<String>,
    pub target: EndpointSpec,
    pub judge: Option<EndpointSpec>,
    pub sampling: Sampling,
    pub limit: Option<usize>,
    pub seed: u64,
}

pub struct Session {
    pub manifest: Manifest,
    pub probes: Vec<Probe>,
    attempts: Vec<Attempt>,
    store: RunStore,
    pub resumed: bool,
}

/// How a session ended.
#[derive(Debug)]
pub enum Finished {
    Complete(Box<RunResult>),
    /// Stopped by the request budget; `--resume` continues.
    Incomplete {
        run_id: String,
        /// Probes (or judge questions) still to send.
        remaining: usize,
        phase: &'static str,
    },
}

impl Session {
    pub fn create(data_dir: &Path, plan: Plan, new: NewRun) -> Result<Session> {
        if plan.probes.is_empty() {
            return Err(Error::Invalid("nothing to run: no probes selected".into()));
        }
        let manifest = Manifest {
            run_id: new_run_id(),
            system: new.system,
            target: new.target,
            judge: new.judge,
            sampling: new.sampling,
            suites: plan.suites,
            limit: new.limit,
            seed: new.seed,
            started: now(),
            guardline_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let store = RunStore::create(data_dir, &manifest, &plan.probes)?;
        Ok(Session {
            manifest,
            probes: plan.probes,
            attempts: Vec::new(),
            store,
            resumed: false,
        })
    }

    pub fn resume(data_dir: &Path, run_id: &str) -> Result<Session> {
        let (store, manifest, probes, attempts) = RunStore::open(data_dir, run_id)?;
        Ok(Session {
            manifest,
            probes,
            attempts,
            store,
            resumed: true,
        })
    }

    pub fn run_id(&self) -> &str {
        &self.manifest.run_id
    }

    pub fn dir(&self) -> &Path {
        &self.store.dir
    }

    /// Probes with an answer already.
    pub fn answered(&self) -> usize {
        let mut ok: HashMap<&str, bool> = HashMap::new();
        for a in &self.attempts {
            ok.insert(a.probe.as_str(), a.is_ok());
        }
        ok.values().filter(|v| **v).count()
    }

    pub async fn run(
        &mut self,
        target: &Endpoint,
        judge: Option<&Endpoint>,
        http: &Http,
        scorer: &Scorer,
        progress: &dyn Progress,
    ) -> Result<Finished> {
        let mut done: HashMap<String, bool> = HashMap::new();
        for a in &self.attempts {
            done.insert(a.probe.clone(), a.is_ok());
        }
        let todo: Vec<Probe> = self
            .probes
            .iter()
            .filter(|p| !done.get(&p.id).copied().unwrap_or(false))
            .cloned()
            .collect();
        progress.start(
            "probes",
            self.probes.len() as u64,
            (self.probes.len() - todo.len()) as u64,
        );
        let stats = send_probes(
            http,
            target,
            &self.manifest.sampling,
            scorer,
            &todo,
            &mut self.store,
            progress,
        )
        .await;
        progress.finish();
        let mut stats = stats?;
        self.store.sync()?;
        self.attempts.append(&mut stats.attempts);
        if stats.unsent > 0 {
            return Ok(Finished::Incomplete {
                run_id: self.manifest.run_id.clone(),
                remaining: stats.unsent as usize,
                phase: "probes",
            });
        }
        let answered = self.answered();
        if answered == 0 {
            let why = self
                .attempts
                .iter()
                .rev()
                .find_map(|a| a.error.clone())
                .unwrap_or_else(|| "no answers".into());
            return Err(Error::Invalid(format!(
                "the target answered no probe ({why}); resume with --resume {} once it is reachable",
                self.manifest.run_id
            )));
        }
        let judged = match judge {
            Some(j) => match self.judge(j, http, progress).await? {
                Ok(v) => v,
                Err(remaining) => {
                    return Ok(Finished::Incomplete {
                        run_id: self.manifest.run_id.clone(),
                        remaining,
                        phase: "judge",
                    })
                }
            },
            None => Vec::new(),
        };
        let result = report::build(
            &self.manifest,
            &self.probes,
            &self.attempts,
            &judged,
            scorer,
            now(),
            self.store.dir.display().to_string(),
        );
        self.store.write_result(&result)?;
        Ok(Finished::Complete(Box::new(result)))
    }

    /// The judge's verdicts on every answered probe that gets one; `Err(remaining)` when the
    /// budget ran out (the verdicts so far are cached, so resuming does not ask again).
    async fn judge(
        &self,
        judge: &Endpoint,
        http: &Http,
        progress: &dyn Progress,
    ) -> Result<std::result::Result<Vec<JudgeVerdict>, usize>> {
        let mut latest: HashMap<&str, &Attempt> = HashMap::new();
        for a in &self.attempts {
            latest.insert(a.probe.as_str(), a);
        }
        let work: Vec<(&Probe, &crate::target::Outcome)> = self
            .probes
            .iter()
            .filter_map(|p| {
                let a = latest.get(p.id.as_str()).filter(|a| a.is_ok())?;
                Some((p, a.outcome.as_ref()?))
            })
            .collect();
        progress.start("judge", work.len() as u64, 0);
        let mut results = futures_util::stream::iter(work.iter())
            .map(|(p, o)| async move { judge::ask(http, judge, p, o).await })
            .buffer_unordered(http.config().concurrency.max(1));
        let mut out = Vec::new();
        let mut short = 0;
        while let Some(r) = results.next().await {
            match r {
                Ok(Some(v)) => {
                    self.store
                        .append_judge(&serde_json::to_value(&v).unwrap_or_default())?;
                    progress.advance(false, v.said.is_some());
                    out.push(v);
                }
                Ok(None) => progress.advance(false, true),
                Err(AskError::Budget { .. }) => short += 1,
                Err(AskError::Failed { .. }) => progress.advance(false, false),
            }
        }
        progress.finish();
        Ok(if short > 0 { Err(short) } else { Ok(out) })
    }
}
