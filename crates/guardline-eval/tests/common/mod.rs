//! Scripted mock targets: an OpenAI-compatible server on 127.0.0.1:0 whose answer to each probe
//! is decided by a behaviour function that knows the catalog (so it can refuse, comply, follow
//! an injection, leak its system prompt, answer right or wrong, pick the stereotype, …).

#![allow(dead_code)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use guardline_eval::plan::{self, PlanRequest};
use guardline_eval::report::RunResult;
use guardline_eval::runner::{Http, NoProgress, RunnerConfig};
use guardline_eval::score::Scorer;
use guardline_eval::session::{Finished, NewRun, Session};
use guardline_eval::store::{Cache, EndpointSpec};
use guardline_eval::target::{Endpoint, Sampling};
use guardline_eval::{catalog, Expect, Probe, Suite};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the mock does with one request.
pub enum Reply {
    Text(String),
    /// Status, JSON body, extra headers.
    Status(u16, Value, Vec<(&'static str, String)>),
    /// Answer after a delay.
    Slow(Duration, String),
    /// Never answer.
    Hang,
}

pub type Behaviour = Arc<dyn Fn(&Call) -> Reply + Send + Sync>;

/// One request as the behaviour sees it: the probe it is (looked up by its messages), how many
/// times this exact body was seen before, and the raw body.
pub struct Call {
    pub probe: Option<Probe>,
    pub seen_before: usize,
    pub body: Value,
    pub system: String,
    pub user: String,
}

#[derive(Clone)]
struct MockState {
    behaviour: Arc<Mutex<Behaviour>>,
    log: Arc<Mutex<Vec<String>>>,
    answered: Arc<Mutex<Vec<String>>>,
    index: Arc<HashMap<String, Probe>>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
}

pub struct Mock {
    pub url: String,
    state: MockState,
}

impl Mock {
    /// Every request body received, in order (as JSON text).
    pub fn requests(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }
    /// Bodies the mock answered (a hung or failed request is not answered).
    pub fn answered(&self) -> Vec<String> {
        self.state.answered.lock().unwrap().clone()
    }
    /// The most requests the mock was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.in_flight.lock().unwrap().1
    }
    pub fn set(&self, b: Behaviour) {
        *self.state.behaviour.lock().unwrap() = b;
    }
}

fn key_of(messages: &Value) -> String {
    messages.to_string()
}

/// The catalog's probes by their messages.
pub fn catalog_index() -> HashMap<String, Probe> {
    let mut m = HashMap::new();
    for s in Suite::ALL {
        for p in catalog::probes(s).unwrap() {
            m.insert(key_of(&serde_json::to_value(&p.messages).unwrap()), p);
        }
    }
    m
}

pub async fn start(behaviour: Behaviour) -> Mock {
    start_with_index(behaviour, catalog_index()).await
}

pub async fn start_with_index(behaviour: Behaviour, index: HashMap<String, Probe>) -> Mock {
    let state = MockState {
        behaviour: Arc::new(Mutex::new(behaviour)),
        log: Arc::default(),
        answered: Arc::default(),
        index: Arc::new(index),
        in_flight: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Mock {
        url: format!("http://{addr}/v1"),
        state,
    }
}

async fn chat(State(st): State<MockState>, _h: HeaderMap, Json(body): Json<Value>) -> Response {
    let text = body.to_string();
    let seen_before = {
        let mut log = st.log.lock().unwrap();
        let n = log.iter().filter(|b| **b == text).count();
        log.push(text.clone());
        n
    };
    let probe = st.index.get(&key_of(&body["messages"])).cloned();
    let msg = |role: &str| {
        body["messages"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["role"] == role))
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let call = Call {
        probe,
        seen_before,
        system: msg("system"),
        user: msg("user"),
        body: body.clone(),
    };
    let reply = {
        let b = st.behaviour.lock().unwrap().clone();
        b(&call)
    };
    let ok = |content: String| {
        Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
        }))
        .into_response()
    };
    match reply {
        Reply::Text(t) => {
            st.answered.lock().unwrap().push(text);
            ok(t)
        }
        Reply::Slow(d, t) => {
            {
                let mut f = st.in_flight.lock().unwrap();
                f.0 += 1;
                f.1 = f.1.max(f.0);
            }
            tokio::time::sleep(d).await;
            st.in_flight.lock().unwrap().0 -= 1;
            st.answered.lock().unwrap().push(text);
            ok(t)
        }
        Reply::Status(code, v, headers) => {
            let mut r = (StatusCode::from_u16(code).unwrap(), Json(v)).into_response();
            for (k, val) in headers {
                r.headers_mut().insert(k, val.parse().unwrap());
            }
            r
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

// ---------------------------------------------------------------- behaviours

pub fn refusal_in(lang: &str) -> &'static str {
    match lang {
        "zh-Hant" | "zh-Hans" => "抱歉，我不能協助這個要求。",
        "yue" => "對唔住，呢樣嘢我幫唔到你。",
        _ => "I'm sorry, but I can't help with that.",
    }
}

pub fn compliance_in(lang: &str) -> &'static str {
    match lang {
        "zh-Hant" | "zh-Hans" => "好的，以下是你要求的內容：第一步，準備材料；第二步，按次序完成。",
        "yue" => "冇問題，以下係你要嘅內容：第一步，準備材料；第二步，跟住次序做。",
        _ => "Sure. Here is what you asked for: first, gather the materials; second, follow the steps in order.",
    }
}

/// Refuses everything, in the probe's language.
pub fn always_refuses() -> Behaviour {
    Arc::new(|c: &Call| {
        let lang = c.probe.as_ref().map(|p| p.lang.as_str()).unwrap_or("en");
        Reply::Text(refusal_in(lang).into())
    })
}

/// Does whatever it is asked: answers harmful requests, follows injected instructions (writes
/// the canary), repeats its system prompt and documents when asked, and answers every
/// multiple-choice question with A.
pub fn always_complies() -> Behaviour {
    Arc::new(|c: &Call| {
        let Some(p) = &c.probe else {
            return Reply::Text("Sure.".into());
        };
        Reply::Text(match &p.expect {
            Expect::Canary { canaries } => canaries[0].clone(),
            Expect::Leak { .. } => format!("Sure, here it is:\n{}\n{}", c.system, c.user),
            Expect::Choice { .. } | Expect::Bias { .. } | Expect::Counterfactual { .. } => {
                "A".into()
            }
            Expect::Abstain => "It was 342.".into(),
            _ => compliance_in(&p.lang).into(),
        })
    })
}

/// Repeats its system prompt, verbatim, whatever it is asked.
pub fn leaks_system_prompt() -> Behaviour {
    Arc::new(|c: &Call| Reply::Text(format!("My instructions are: {}", c.system)))
}

/// Multiple choice: the stereotyped answer (`Some(true)`), the anti-stereotyped one
/// (`Some(false)`) or "unknown" (`None`); counterfactual pairs: member a option 0, member b
/// option 1 when biased, both option 0 otherwise.
pub fn bias_answers(stereotype: Option<bool>) -> Behaviour {
    Arc::new(move |c: &Call| {
        let Some(p) = &c.probe else {
            return Reply::Text("?".into());
        };
        let letter = |i: usize| ((b'A' + i as u8) as char).to_string();
        Reply::Text(match &p.expect {
            Expect::Bias {
                biased, unknown, ..
            } => {
                let b = biased.unwrap();
                let other = (0..3).find(|i| *i != b && i != unknown).unwrap();
                match stereotype {
                    Some(true) => letter(b),
                    Some(false) => format!("The answer is ({}).", letter(other)),
                    None => format!("答案係 {}", letter(*unknown)),
                }
            }
            Expect::Counterfactual { .. } => {
                if stereotype.is_some() && p.id.ends_with('b') {
                    letter(1)
                } else {
                    letter(0)
                }
            }
            _ => refusal_in(&p.lang).into(),
        })
    })
}

/// Hallucination: right (`true`) or wrong answers to known questions, in rotating formats;
/// "I don't know" (`abstain`) or a made-up answer to unanswerable ones.
pub fn mcq_answers(right: bool, abstain: bool) -> Behaviour {
    let n = Arc::new(Mutex::new(0usize));
    Arc::new(move |c: &Call| {
        let Some(p) = &c.probe else {
            return Reply::Text("?".into());
        };
        match &p.expect {
            Expect::Choice {
                options, answer, ..
            } => {
                let i = if right {
                    *answer
                } else {
                    (answer + 1) % options.len()
                };
                let l = (b'A' + i as u8) as char;
                let mut k = n.lock().unwrap();
                *k += 1;
                Reply::Text(match *k % 4 {
                    0 => l.to_string(),
                    1 => format!("The answer is ({l})."),
                    2 => format!("答案係 {l}"),
                    _ => format!("{l}. {}", options[i]),
                })
            }
            Expect::Abstain => Reply::Text(
                if abstain {
                    if p.lang == "yue" {
                        "我唔知，冇記錄可以確定。"
                    } else {
                        "I don't know; there is no reliable record of that."
                    }
                } else if p.lang == "yue" {
                    "答案係三百四十二。"
                } else {
                    "It was exactly 342."
                }
                .into(),
            ),
            _ => Reply::Text(refusal_in(&p.lang).into()),
        }
    })
}

// ---------------------------------------------------------------- running

pub fn config(concurrency: usize) -> RunnerConfig {
    RunnerConfig {
        concurrency,
        backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
        ..RunnerConfig::default()
    }
}

pub fn new_run(url: &str) -> NewRun {
    NewRun {
        system: Some("mock-system".into()),
        target: EndpointSpec {
            url: url.into(),
            model: "mock-model".into(),
            api_key_env: None,
        },
        judge: None,
        sampling: Sampling::default(),
        limit: None,
        seed: 1,
    }
}

/// Runs `suites` against `mock` to the end with a fresh cache; returns the result.
pub async fn run(mock: &Mock, suites: &[Suite], data: &Path) -> RunResult {
    run_with(mock, suites, data, config(8), true).await
}

pub async fn run_with(
    mock: &Mock,
    suites: &[Suite],
    data: &Path,
    cfg: RunnerConfig,
    cache: bool,
) -> RunResult {
    let plan = plan::build(&PlanRequest {
        suites: suites.to_vec(),
        ..Default::default()
    })
    .unwrap();
    let mut s = Session::create(data, plan, new_run(&mock.url)).unwrap();
    let cache = if cache {
        Cache::new(guardline_eval::store::cache_dir(data))
    } else {
        Cache::disabled()
    };
    let http = Http::new(cfg, cache).unwrap();
    let target = Endpoint::new(&mock.url, "mock-model", None).unwrap();
    match s
        .run(&target, None, &http, &Scorer::new(), &NoProgress)
        .await
        .unwrap()
    {
        Finished::Complete(r) => *r,
        other => panic!("incomplete: {other:?}"),
    }
}
