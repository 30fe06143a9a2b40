//! TracedFs on a real nfs3_server, driven by real NFSv3 clients: the nfs3_client crate and
//! Debian's libnfs-utils (`nfs-cp`, `nfs-cat`, `nfs-ls`) as an independent implementation.
#![cfg(feature = "nfs3_server")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel::ops::nfs::{track_mounts, NfsSide, Share, TracedFs, TrackedListener};
use ferrotel_testkit::Receiver;
use nfs3_client::nfs3_types::nfs3;
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::TokioConnector;
use nfs3_client::Nfs3ConnectionBuilder;
use nfs3_server::memfs::{MemFs, MemFsConfig};
use nfs3_server::tcp::{NFSTcp as _, NFSTcpListener};
use support::*;

/// Serves a memfs export holding `hello.txt` through TracedFs; returns the port.
async fn serve(telemetry: &ferrotel::Guard) -> u16 {
    let mut config = MemFsConfig::default();
    config.add_file("/hello.txt", b"hello, nfs\n".to_vec());
    let fs = MemFs::new(config).unwrap();
    let traced = TracedFs::new(fs, telemetry.ops().nfs(NfsSide::Server), Share::new("/"));
    let mut listener = NFSTcpListener::bind("127.0.0.1:0", traced).await.unwrap();
    track_mounts(&mut listener, telemetry.ops().nfs(NfsSide::Server)).unwrap();
    let port = listener.get_listen_port();
    tokio::spawn(async move {
        let _ = listener.handle_forever().await;
    });
    port
}

fn name(text: &str) -> nfs3::filename3<'static> {
    nfs3::filename3(Opaque::owned(text.as_bytes().to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_procedure_of_a_real_client_is_a_server_span() {
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[]);
    let port = serve(&telemetry).await;
    let mut client = Nfs3ConnectionBuilder::new(TokioConnector, "127.0.0.1", "/")
        .connect_from_privileged_port(false)
        .mount_port(port)
        .nfs3_port(port)
        .mount()
        .await
        .unwrap();
    let root = client.root_nfs_fh3();

    let found = client
        .lookup(&nfs3::LOOKUP3args {
            what: nfs3::diropargs3 {
                dir: root.clone(),
                name: name("hello.txt"),
            },
        })
        .await
        .unwrap();
    let nfs3::LOOKUP3res::Ok(found) = found else {
        panic!("hello.txt not found")
    };
    let read = client
        .read(&nfs3::READ3args {
            file: found.object.clone(),
            offset: 0,
            count: 1024,
        })
        .await
        .unwrap();
    let nfs3::READ3res::Ok(read) = read else {
        panic!("read failed")
    };
    assert_eq!(read.data.as_ref(), b"hello, nfs\n");

    let missing = client
        .lookup(&nfs3::LOOKUP3args {
            what: nfs3::diropargs3 {
                dir: root.clone(),
                name: name("missing"),
            },
        })
        .await
        .unwrap();
    assert!(matches!(
        missing,
        nfs3::LOOKUP3res::Err((nfs3::nfsstat3::NFS3ERR_NOENT, _))
    ));

    let created = client
        .create(&nfs3::CREATE3args {
            where_: nfs3::diropargs3 {
                dir: root.clone(),
                name: name("new.txt"),
            },
            how: nfs3::createhow3::UNCHECKED(nfs3::sattr3::default()),
        })
        .await
        .unwrap();
    let nfs3::CREATE3res::Ok(created) = created else {
        panic!("create failed")
    };
    let handle = match created.obj {
        nfs3::post_op_fh3::Some(handle) => handle,
        nfs3::post_op_fh3::None => panic!("no handle"),
    };
    let payload = vec![42u8; 5000];
    let written = client
        .write(&nfs3::WRITE3args {
            file: handle,
            offset: 0,
            count: payload.len() as u32,
            stable: nfs3::stable_how::FILE_SYNC,
            data: Opaque::borrowed(&payload),
        })
        .await
        .unwrap();
    assert!(matches!(written, nfs3::WRITE3res::Ok(_)));
    let removed = client
        .remove(&nfs3::REMOVE3args {
            object: nfs3::diropargs3 {
                dir: root,
                name: name("new.txt"),
            },
        })
        .await
        .unwrap();
    assert!(matches!(removed, nfs3::REMOVE3res::Ok(_)));
    client.unmount().await.unwrap();

    telemetry.flush();
    receiver.wait_for_spans(6, WAIT).unwrap();
    let read_span = &spans_named(&receiver, "nfs.READ")[0];
    assert_eq!(read_span.span.kind, 2, "SERVER");
    assert_eq!(read_span.attr("nfs.io.bytes").as_deref(), Some("11"));
    assert_eq!(read_span.attr("nfs.share").as_deref(), Some("/"));
    let lookups = spans_named(&receiver, "nfs.LOOKUP");
    assert!(lookups
        .iter()
        .any(|s| s.attr("error.type").as_deref() == Some("NFS3ERR_NOENT")));
    assert!(lookups
        .iter()
        .any(|s| s.attr("nfs.status").as_deref() == Some("NFS3_OK")));
    let write = &spans_named(&receiver, "nfs.WRITE")[0];
    assert_eq!(write.attr("nfs.io.bytes").as_deref(), Some("5000"));
    assert_eq!(spans_named(&receiver, "nfs.CREATE").len(), 1);
    assert_eq!(spans_named(&receiver, "nfs.REMOVE").len(), 1);
    let (io, _) = numbers(&receiver, "nfs.server.io");
    let received = point_with(
        &io,
        |p| &p.attributes,
        &[("network.io.direction", "receive")],
    );
    assert_eq!(int(received), 5000);

    // The mount and its unmount, counted as a connection opened and closed.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        telemetry.flush();
        let total = |name: &str| {
            receiver
                .metrics()
                .iter()
                .rev()
                .find(|m| m.name() == name)
                .map(|_| numbers(&receiver, name).0.iter().map(int).sum::<i64>())
                .unwrap_or(-1)
        };
        let (accepted, closed) = (
            total("nfs.server.net.tcp.connection.accepted"),
            total("nfs.server.connection.closed"),
        );
        if accepted == 1 && closed == 1 {
            assert_eq!(total("nfs.server.connection.active"), 0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mount accounting: accepted {accepted}, closed {closed}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_wrapper_counts_connections_and_force_closes() {
    let receiver = Receiver::start();
    let telemetry = guard(
        &receiver,
        &[
            ("FERROTEL_NFS_METRICS", "dittofs"),
            ("FERROTEL_METRICS_PREFIX", "dittofs"),
        ],
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = TrackedListener::new(listener, telemetry.ops().nfs(NfsSide::Server));
    let addr = listener.local_addr().unwrap();
    let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (first, _) = listener.accept().await.unwrap();
    let (second, _) = listener.accept().await.unwrap();
    telemetry.flush();
    receiver
        .wait_for_metric("dittofs_nfs_active_connections", WAIT)
        .unwrap();
    let total = |name: &str| numbers(&receiver, name).0.iter().map(int).sum::<i64>();
    assert_eq!(total("dittofs_nfs_active_connections"), 2);
    drop(first);
    second.force_close();
    telemetry.flush();
    assert_eq!(total("dittofs_nfs_active_connections"), 0);
    assert_eq!(total("dittofs_nfs_connections_accepted_total"), 2);
    assert_eq!(total("dittofs_nfs_connections_closed_total"), 2);
    assert_eq!(total("dittofs_nfs_connections_force_closed_total"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_wrapper_holds_connections_to_its_maximum_and_reports_it() {
    use tokio::io::AsyncReadExt as _;
    let receiver = Receiver::start();
    let telemetry = guard(
        &receiver,
        &[
            ("FERROTEL_NFS_METRICS", "dittofs"),
            ("FERROTEL_METRICS_PREFIX", "dittofs"),
        ],
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = std::sync::Arc::new(
        TrackedListener::new(listener, telemetry.ops().nfs(NfsSide::Server))
            .with_max_connections(1),
    );
    let addr = listener.local_addr().unwrap();
    let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (first, _) = listener.accept().await.unwrap();
    // At the maximum: the next connection is closed unserved.
    let mut refused = tokio::net::TcpStream::connect(addr).await.unwrap();
    let waiting = tokio::spawn({
        let listener = std::sync::Arc::clone(&listener);
        async move { listener.accept().await.unwrap().0 }
    });
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(WAIT, refused.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed at once: {read:?}"
    );
    // A slot is free again once the first connection goes.
    drop(first);
    let _c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let third = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    telemetry.flush();
    receiver
        .wait_for_metric("dittofs_nfs_max_connections", WAIT)
        .unwrap();
    let total = |name: &str| numbers(&receiver, name).0.iter().map(int).sum::<i64>();
    assert_eq!(total("dittofs_nfs_max_connections"), 1);
    assert_eq!(total("dittofs_nfs_active_connections"), 1);
    assert_eq!(
        total("dittofs_nfs_connections_accepted_total"),
        2,
        "the refused one is not counted"
    );
    drop(third);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libnfs_round_trips_3_mib_through_the_traced_server() {
    if ferrotel_testkit::external::program("nfs-cp", "install Debian's libnfs-utils").is_none() {
        return;
    }
    let receiver = Receiver::start();
    let telemetry = guard(&receiver, &[]);
    let port = serve(&telemetry).await;
    let dir = std::env::temp_dir().join(format!("ferrotel-libnfs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("in.bin");
    let back = dir.join("out.bin");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&source, &data).unwrap();
    // The export `/`, then the file: libnfs needs the double slash, and no portmapper.
    let url = format!("nfs://127.0.0.1//big.bin?version=3&nfsport={port}&mountport={port}");
    let (source_s, back_s, url_c) = (
        source.display().to_string(),
        back.display().to_string(),
        url.clone(),
    );
    tokio::task::spawn_blocking(move || {
        use ferrotel_testkit::external::run;
        run("nfs-cp", &[&source_s, &url_c]);
        run("nfs-cp", &[&url_c, &back_s]);
        let root = format!("nfs://127.0.0.1//?version=3&nfsport={port}&mountport={port}");
        let listing = run("nfs-ls", &[&root]);
        assert!(listing.contains("big.bin"), "{listing}");
    })
    .await
    .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), data, "the bytes round-trip");
    let _ = std::fs::remove_dir_all(&dir);

    telemetry.flush();
    receiver.wait_for_spans(2, WAIT).unwrap();
    let written: i64 = spans_named(&receiver, "nfs.WRITE")
        .iter()
        .map(|s| {
            s.attr("nfs.io.bytes")
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        written,
        data.len() as i64,
        "every WRITE span counted its bytes"
    );
    let read: i64 = spans_named(&receiver, "nfs.READ")
        .iter()
        .map(|s| {
            s.attr("nfs.io.bytes")
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(read, data.len() as i64);
}
