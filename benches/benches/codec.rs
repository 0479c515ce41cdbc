//! Decoding and validating what clients send: the work every connection's reader does per
//! message, plus rejecting hostile bytes.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_shared::{ClientMsg, Direction, Input, PROTOCOL_VERSION};

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    let input = ClientMsg::Input(Input {
        seq: 123_456,
        dir: Direction::new(0.6, -0.8).expect("valid"),
        attack: true,
        seen: 1_000_000,
        shown: 0,
    })
    .encode();
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some("a player name".into()),
        resume: Some([7; 16]),
        room: Some("arena".into()),
        seat: None,
    }
    .encode();
    let mut nan = input.clone();
    let at = nan.len() - 10;
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_be_bytes());
    let huge = vec![0xdd, 0xff, 0xff, 0xff, 0xff];
    let deep = vec![0x91u8; 1000];
    for (name, bytes) in [
        ("input", &input),
        ("join", &join),
        ("nan_input", &nan),
        ("huge_length", &huge),
        ("deep_nesting", &deep),
    ] {
        group.bench_with_input(BenchmarkId::new("decode", name), bytes, |b, bytes| {
            b.iter(|| std::hint::black_box(ClientMsg::decode(std::hint::black_box(bytes))))
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
