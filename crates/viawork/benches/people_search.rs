//! Criterion benchmark of people search over a synthetic directory of 100,000 users
//! (`support/people_data.rs`): one benchmark per kind of query (a fixed sample of 256
//! queries of that kind, searched in turn with the API's default limit of 20), plus the
//! index build. Means per search; for p50/p99 see the `people_search_p99` harness
//! (`bench/people/run.sh`).
//!
//! `cargo bench -p viawork --bench people_search`

#[path = "support/people_data.rs"]
mod people_data;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;
use viawork::people::{Query, SearchIndex};

const USERS: usize = 100_000;

fn search(c: &mut Criterion) {
    let people = people_data::directory(USERS);
    let index = SearchIndex::build(people.clone());
    let mut rng = people_data::rng();
    let mut group = c.benchmark_group("people_search_100k");
    for (kind, name) in people_data::KINDS.iter().enumerate() {
        let queries: Vec<Query> = (0..256)
            .filter_map(|_| Query::parse(&people_data::query(kind, &people, &mut rng)).ok())
            .collect();
        let mut i = 0;
        group.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(index.search(&queries[i], 20))
            })
        });
    }
    group.finish();
    let mut build = c.benchmark_group("people_index");
    build.sample_size(10);
    build.bench_function("build_100k", |b| {
        b.iter_batched(
            || people.clone(),
            |p| black_box(SearchIndex::build(p)),
            BatchSize::LargeInput,
        )
    });
    build.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
