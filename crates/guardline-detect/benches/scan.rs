//! Single-thread throughput of the full default ruleset on mixed English / Traditional Chinese /
//! Cantonese text with sparse personal data, plus its two halves (normalisation alone, the
//! engine with only secrets) for comparison in the same run.
//!
//! `cargo bench -p guardline-detect --bench scan`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use guardline_detect::{Engine, EngineConfig, Normalized};

const EN: [&str; 6] = [
    "The committee reviewed the quarterly results and agreed to extend the pilot programme to two more districts next year.",
    "Please find attached the revised schedule for the staff training sessions; let me know if any of the dates clash with your leave.",
    "Our customer service team will reply within three working days. For urgent matters, visit any branch during office hours.",
    "The model was evaluated on 1,200 held-out questions, with accuracy improving from 71% to 84% after retrieval augmentation.",
    "Remember to back up your files before the system upgrade on Saturday night, which may last up to four hours.",
    "She said the new MTR line would cut her commute by twenty minutes, which makes the flat in Tseung Kwan O more attractive.",
];
const ZH: [&str; 6] = [
    "委員會今日審閱了季度業績，並同意明年把試驗計劃擴展至另外兩個地區。",
    "請查閱附件中經修訂的員工培訓時間表，如日期與你的假期有衝突，請告知。",
    "我哋嘅客戶服務團隊會喺三個工作天內回覆你，如有急事可以親身去任何一間分行。",
    "佢話新嘅港鐵綫可以幫佢慳二十分鐘車程，所以將軍澳嗰個單位就更加吸引。",
    "系統升級將於星期六晚進行，最長可能持續四小時，請提前備份你的檔案。",
    "模型喺一千二百條測試題目上面嘅準確率由百分之七十一提升到百分之八十四。",
];
const PII: [&str; 6] = [
    " 如有查詢請致電 9123 4567。",
    " Contact chan.taiman@example.com.hk for details.",
    " 身份證號碼：A123456(3)。",
    " Card 4111 1111 1111 1111 was charged.",
    " 戶口號碼 004-123-456789。",
    " Tel: +852 2345 6789.",
];

/// About `n` bytes of text: half English, half Chinese, one personal-data item every ~2 KB.
fn corpus(n: usize) -> Vec<u8> {
    let mut out = String::with_capacity(n + 256);
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut since_pii = 0;
    while out.len() < n {
        let r = next();
        let s = if r % 2 == 0 {
            EN[(r >> 8) as usize % 6]
        } else {
            ZH[(r >> 8) as usize % 6]
        };
        out.push_str(s);
        out.push(if r % 7 == 0 { '\n' } else { ' ' });
        since_pii += s.len();
        if since_pii > 2048 {
            out.push_str(PII[(r >> 16) as usize % 6]);
            since_pii = 0;
        }
    }
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let text = corpus(4 << 20);
    let full = Engine::with_defaults();
    let secrets = Engine::new(EngineConfig {
        kinds: vec!["secret.*".into()],
        ..Default::default()
    })
    .unwrap();
    let mut g = c.benchmark_group("scan_mixed_en_zh_4MiB");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.bench_with_input(
        BenchmarkId::new("full_default_ruleset", ""),
        &text,
        |b, t| b.iter(|| black_box(full.scan(black_box(t))).len()),
    );
    g.bench_with_input(BenchmarkId::new("secrets_only", ""), &text, |b, t| {
        b.iter(|| black_box(secrets.scan(black_box(t))).len())
    });
    g.bench_with_input(BenchmarkId::new("normalise_only", ""), &text, |b, t| {
        b.iter(|| black_box(Normalized::new(black_box(t))).text.len())
    });
    g.finish();

    // The gateway's unit of work: one 4 KiB chat prompt (latency per call, not bandwidth).
    let prompt = &text[..4096];
    let mut g = c.benchmark_group("scan_prompt_4KiB");
    g.throughput(Throughput::Bytes(prompt.len() as u64));
    g.bench_function("full_default_ruleset", |b| {
        b.iter(|| black_box(full.scan(black_box(prompt))).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
