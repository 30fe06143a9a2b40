//! The object_store adapter against the real in-memory and local-filesystem stores: spans,
//! metrics of both profiles, exemplars, and a get's span that lives as long as its body.
#![cfg(feature = "object_store")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use ferrotel::ops::storage::{StorageInstruments, TracedStore};
use ferrotel_testkit::Receiver;
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use support::*;

/// put, get, head, list, copy, delete, and a get of a missing key.
async fn exercise(store: &dyn ObjectStore) {
    let key = Path::from("volumes/alpha/chunk-1");
    store.put(&key, vec![7u8; 1000].into()).await.unwrap();
    let body = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(body.len(), 1000);
    assert_eq!(store.head(&key).await.unwrap().size, 1000);
    let listed: Vec<_> = store
        .list(Some(&Path::from("volumes")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let copy = Path::from("volumes/alpha/chunk-2");
    store.copy(&key, &copy).await.unwrap();
    store.delete(&copy).await.unwrap();
    let missing = store.get(&Path::from("volumes/none")).await;
    assert!(matches!(missing, Err(object_store::Error::NotFound { .. })));
}

fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrotel-ops-storage-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_a_span_with_metrics_on_memory_and_fs() {
    let dir = scratch_dir();
    for (backend, inner) in [
        ("memory", Arc::new(InMemory::new()) as Arc<dyn ObjectStore>),
        (
            "fs",
            Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap()) as Arc<dyn ObjectStore>,
        ),
    ] {
        let receiver = Receiver::start();
        let telemetry = guard(&receiver, &[]);
        let store = TracedStore::new(inner, telemetry.ops().storage(backend));
        assert!(store.to_string().starts_with("TracedStore("));
        exercise(&store).await;
        flush_and_wait(&telemetry, &receiver, 7, "storage.operation.duration");

        for (name, count) in [
            ("storage.put", 1),
            ("storage.get", 2),
            ("storage.head", 1),
            ("storage.list", 1),
            ("storage.copy", 1),
            ("storage.delete", 1),
        ] {
            let spans = spans_named(&receiver, name);
            assert_eq!(spans.len(), count, "{backend} {name}");
            assert_eq!(spans[0].span.kind, 3, "CLIENT");
            assert_eq!(spans[0].attr("storage.backend").as_deref(), Some(backend));
            assert_eq!(
                spans[0].attr("storage.key"),
                None,
                "keys only when opted in"
            );
        }
        let gets = spans_named(&receiver, "storage.get");
        let hit = gets
            .iter()
            .find(|s| s.attr("error.type").is_none())
            .unwrap();
        assert_eq!(
            hit.attr("storage.io.bytes").as_deref(),
            Some("1000"),
            "{backend}"
        );
        let miss = gets
            .iter()
            .find(|s| s.attr("error.type").is_some())
            .unwrap();
        assert_eq!(miss.attr("error.type").as_deref(), Some("not_found"));
        assert_eq!(miss.span.status.as_ref().unwrap().code, 2);

        let durations = histogram(&receiver, "storage.operation.duration");
        let put = point_with(
            &durations,
            |p| &p.attributes,
            &[("storage.backend", backend), ("storage.operation", "put")],
        );
        assert_eq!(put.count, 1);
        let missing = point_with(
            &durations,
            |p| &p.attributes,
            &[
                ("storage.backend", backend),
                ("storage.operation", "get"),
                ("error.type", "not_found"),
            ],
        );
        assert_eq!(missing.count, 1);
        assert!(!exemplars_link_to_spans(&receiver, &durations).is_empty());
        let (io, monotonic) = numbers(&receiver, "storage.io");
        assert!(monotonic);
        let written = point_with(
            &io,
            |p| &p.attributes,
            &[("storage.backend", backend), ("storage.operation", "put")],
        );
        assert_eq!(int(written), 1000);
        let read = point_with(
            &io,
            |p| &p.attributes,
            &[("storage.backend", backend), ("storage.operation", "get")],
        );
        assert_eq!(int(read), 1000);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_span_ends_with_its_body() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[]);
    let store = TracedStore::new(InMemory::new(), telemetry.ops().storage("memory"));
    let key = Path::from("big");
    store.put(&key, vec![1u8; 64 * 1024].into()).await.unwrap();
    let got = store.get(&key).await.unwrap();
    telemetry.flush();
    receiver.wait_for_spans(1, WAIT).unwrap();
    assert!(
        spans_named(&receiver, "storage.get").is_empty(),
        "the get is still being read"
    );
    let mut stream = got.into_stream();
    let mut read = 0;
    while let Some(chunk) = stream.next().await {
        read += chunk.unwrap().len();
    }
    assert_eq!(read, 64 * 1024);
    telemetry.flush();
    receiver.wait_for_spans(2, WAIT).unwrap();
    let get = &spans_named(&receiver, "storage.get")[0];
    assert_eq!(get.attr("storage.io.bytes").as_deref(), Some("65536"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_on_opt_in_and_the_blixard_names() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[("FERROTEL_STORAGE_METRICS", "blixard")]);
    let instruments: StorageInstruments = telemetry.ops().storage("memory").record_keys(true);
    let store = TracedStore::new(InMemory::new(), instruments.clone());
    exercise(&store).await;
    instruments.cache_hit();
    instruments.cache_hit();
    instruments.cache_miss();
    flush_and_wait(&telemetry, &receiver, 7, "storage_reads_total");
    let put = &spans_named(&receiver, "storage.put")[0];
    assert_eq!(
        put.attr("storage.key").as_deref(),
        Some("volumes/alpha/chunk-1")
    );
    let total = |name: &str| numbers(&receiver, name).0.iter().map(int).sum::<i64>();
    // Reads: two gets, a head and a list; writes: put, copy, delete.
    assert_eq!(total("storage_reads_total"), 4);
    assert_eq!(total("storage_writes_total"), 3);
    let reads: u64 = histogram(&receiver, "storage_read_duration")
        .iter()
        .map(|p| p.count)
        .sum();
    assert_eq!(reads, 4);
    let writes: u64 = histogram(&receiver, "storage_write_duration")
        .iter()
        .map(|p| p.count)
        .sum();
    assert_eq!(writes, 3);
    let (cache, _) = numbers(&receiver, "storage.cache.requests");
    let hits = point_with(
        &cache,
        |p| &p.attributes,
        &[
            ("storage.backend", "memory"),
            ("storage.cache.result", "hit"),
        ],
    );
    assert_eq!(int(hits), 2);
}
