//! The synchronous API: lifecycle, queries, waiting, subscriptions, fault
//! scripting across transports, OTLP JSON lines.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use agent_otel_collector::{
    Answer, Collector, CollectorConfig, CollectorError, DEFAULT_MAX_BODY_BYTES, Fault, Transport,
    WaitTimeout,
};
use common::{BOUND, http_client, sample_request};
use prost::Message as _;

async fn post_protobuf(c: &Collector, req: &ExportLogsServiceRequest) -> u16 {
    http_client()
        .post(c.http_logs_endpoint().unwrap())
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn export_grpc(c: &Collector, req: ExportLogsServiceRequest) -> Result<(), tonic::Status> {
    let mut cl = LogsServiceClient::connect(c.grpc_endpoint().unwrap())
        .await
        .unwrap();
    cl.export(req).await.map(|_| ())
}

#[test]
fn public_types_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Collector>();
    assert_send_sync::<agent_otel_collector::ReceivedRequest>();
    assert_send_sync::<agent_otel_collector::ReceivedRecord>();
    assert_send_sync::<CollectorError>();
    assert_send_sync::<WaitTimeout>();
}

#[test]
fn default_config_listens_on_ephemeral_loopback_ports() {
    let config = CollectorConfig::default();
    assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    assert_eq!(DEFAULT_MAX_BODY_BYTES, 64 * 1024 * 1024);
    let c = Collector::start(config).unwrap();
    let http = c.http_addr().unwrap();
    let grpc = c.grpc_addr().unwrap();
    assert!(http.ip().is_loopback() && http.port() != 0);
    assert!(grpc.ip().is_loopback() && grpc.port() != 0);
    assert_ne!(http.port(), grpc.port());
    assert_eq!(
        c.http_logs_endpoint().unwrap(),
        format!("http://127.0.0.1:{}/v1/logs", http.port())
    );
    assert_eq!(
        c.http_base_endpoint().unwrap(),
        format!("http://127.0.0.1:{}", http.port())
    );
    assert_eq!(
        c.grpc_endpoint().unwrap(),
        format!("http://127.0.0.1:{}", grpc.port())
    );
    assert!(format!("{c:?}").contains("Collector"));

    let http_only = Collector::start(CollectorConfig::http_only()).unwrap();
    assert!(http_only.grpc_addr().is_none() && http_only.grpc_endpoint().is_none());
}

#[test]
fn bind_errors_name_the_address() {
    let first = Collector::start(CollectorConfig::http_only()).unwrap();
    let taken = first.http_addr().unwrap();
    let err = Collector::start(CollectorConfig {
        http_addr: Some(taken),
        ..CollectorConfig::http_only()
    })
    .unwrap_err();
    assert!(
        matches!(err, CollectorError::Bind { transport: Transport::Http, addr, .. } if addr == taken),
        "{err:?}"
    );
    assert!(err.to_string().contains(&taken.to_string()), "{err}");

    let err = Collector::start(CollectorConfig {
        http_addr: None,
        grpc_addr: None,
        max_body_bytes: 1,
        ..CollectorConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, CollectorError::NoReceiver));
}

/// A loopback port held by a bound socket that does not listen (and lets
/// a listener with `SO_REUSEADDR`, as every listener here has, take it
/// over): no one else gets the port, and no port is released and reused.
fn held_port() -> (socket2::Socket, u16) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (socket, port)
}

#[test]
fn explicit_address_is_used() {
    let (_held, port) = held_port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let c = Collector::start(CollectorConfig {
        http_addr: Some(addr),
        ..CollectorConfig::http_only()
    })
    .unwrap();
    assert_eq!(c.http_addr(), Some(addr));
    assert_eq!(
        c.http_logs_endpoint().unwrap(),
        format!("http://{addr}/v1/logs")
    );
}

#[test]
fn wait_timeouts_say_how_many_arrived() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(2)).await, 200);
    });
    let started = Instant::now();
    let err: WaitTimeout = c
        .wait_for_records(5, Duration::from_millis(50))
        .unwrap_err();
    assert!(started.elapsed() < BOUND);
    assert_eq!((err.expected, err.arrived, err.what), (5, 2, "records"));
    let msg = err.to_string();
    assert!(
        msg.contains("5 records") && msg.contains("2 arrived"),
        "{msg}"
    );

    let err = c
        .wait_for_requests(3, Duration::from_millis(10))
        .unwrap_err();
    assert_eq!((err.expected, err.arrived), (3, 1));
    assert!(err.to_string().contains("requests"));

    // Already satisfied: returns at once.
    assert_eq!(c.wait_for_records(2, Duration::ZERO).unwrap().len(), 2);
    assert_eq!(c.wait_for_requests(1, Duration::ZERO).unwrap().len(), 1);
    // Huge timeouts do not overflow.
    assert_eq!(c.wait_for_records(1, Duration::MAX).unwrap().len(), 2);
}

#[test]
fn wait_for_records_wakes_up_when_records_arrive() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let endpoint = c.grpc_endpoint().unwrap();
    let sender = common::export_grpc_in_thread(endpoint, vec![sample_request(2); 3]);
    assert_eq!(c.wait_for_records(6, BOUND).unwrap().len(), 6);
    sender.join().unwrap().unwrap();
}

#[test]
fn faults_are_consumed_fifo_across_transports() {
    let c = Collector::start(CollectorConfig::default()).unwrap();
    c.push_fault(Fault::Unavailable { retry_after: None }, 2);
    c.push_fault(Fault::InvalidArgument, 1);
    assert_eq!(c.pending_faults(), 3);
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 503);
        let err = export_grpc(&c, sample_request(1)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        let err = export_grpc(&c, sample_request(1)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 200);
        export_grpc(&c, sample_request(1)).await.unwrap();
    });
    assert_eq!(c.pending_faults(), 0);
    let transports: Vec<Transport> = c.requests().iter().map(|r| r.transport).collect();
    assert_eq!(
        transports,
        [
            Transport::Http,
            Transport::Grpc,
            Transport::Grpc,
            Transport::Http,
            Transport::Grpc
        ]
    );
    assert_eq!(c.request_count(), 5);
    assert_eq!(c.record_count(), 2);

    c.push_fault(Fault::Unauthenticated, 5);
    c.clear_faults();
    assert_eq!(c.pending_faults(), 0);
}

#[test]
fn default_fault_applies_until_reset() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    c.set_default_fault(Some(Fault::Throttled { retry_after: None }));
    c.push_fault(Fault::InvalidArgument, 1);
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 400);
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 429);
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 429);
        c.set_default_fault(None);
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 200);
    });
    assert_eq!(c.record_count(), 1);
}

#[test]
fn clear_forgets_received_data() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(2)).await, 200);
    });
    assert_eq!(c.record_count(), 2);
    c.clear();
    assert_eq!((c.record_count(), c.request_count()), (0, 0));
    assert!(c.records().is_empty() && c.requests().is_empty());
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 200);
    });
    assert_eq!(c.wait_for_records(1, BOUND).unwrap().len(), 1);
}

#[test]
fn subscribers_see_every_request_live() {
    let c = Collector::start(CollectorConfig::default()).unwrap();
    let feed = c.subscribe();
    c.push_fault(Fault::Unavailable { retry_after: None }, 1);
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 503);
        export_grpc(&c, sample_request(2)).await.unwrap();
    });
    let first = feed.recv_timeout(BOUND).unwrap();
    assert_eq!(first.transport, Transport::Http);
    assert!(matches!(first.answered, Answer::Fault(_)));
    let second = feed.recv_timeout(BOUND).unwrap();
    assert_eq!(second.transport, Transport::Grpc);
    assert_eq!(second.records().len(), 2);

    // A dropped subscriber does not disturb the others.
    let gone = c.subscribe();
    drop(gone);
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 200);
    });
    assert_eq!(feed.recv_timeout(BOUND).unwrap().record_count(), 1);

    drop(c);
    assert!(
        feed.recv_timeout(BOUND).is_err(),
        "the feed ends with the collector"
    );
}

#[test]
fn otlp_json_lines_round_trip() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    common::runtime().block_on(async {
        export_grpc(&c, sample_request(3)).await.unwrap();
    });
    let req = &c.wait_for_requests(1, BOUND).unwrap()[0];
    let line = req.to_otlp_json();
    assert!(line.starts_with("{\"resourceLogs\":["), "{line}");
    assert!(!line.contains('\n'));
    let parsed: ExportLogsServiceRequest = serde_json::from_str(&line).unwrap();
    assert_eq!(parsed, sample_request(3));
}

#[tokio::test(flavor = "current_thread")]
async fn usable_and_droppable_inside_a_current_thread_runtime() {
    let c = Collector::start(CollectorConfig::default()).unwrap();
    assert_eq!(post_protobuf(&c, &sample_request(1)).await, 200);
    export_grpc(&c, sample_request(1)).await.unwrap();
    // Blocking calls inside the runtime do not deadlock: the collector has
    // its own threads.
    assert_eq!(c.wait_for_records(2, BOUND).unwrap().len(), 2);
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_and_droppable_inside_a_multi_thread_runtime() {
    let c = Collector::start(CollectorConfig::default()).unwrap();
    export_grpc(&c, sample_request(1)).await.unwrap();
    assert_eq!(c.wait_for_records(1, BOUND).unwrap().len(), 1);
    drop(c);
}

#[test]
fn many_collectors_start_and_stop_quickly() {
    let started = Instant::now();
    for _ in 0..10 {
        let c = Collector::start(CollectorConfig::default()).unwrap();
        drop(c);
    }
    assert!(started.elapsed() < BOUND);
}

#[test]
fn without_history_requests_are_counted_and_fed_but_not_kept() {
    let c = Collector::start(CollectorConfig {
        keep_requests: false,
        ..CollectorConfig::default()
    })
    .unwrap();
    let feed = c.subscribe();
    c.push_fault(Fault::Unavailable { retry_after: None }, 1);
    common::runtime().block_on(async {
        assert_eq!(post_protobuf(&c, &sample_request(1)).await, 503);
        assert_eq!(post_protobuf(&c, &sample_request(2)).await, 200);
        export_grpc(&c, sample_request(3)).await.unwrap();
    });
    // The waits work on the counts; nothing is kept to return.
    assert!(c.wait_for_requests(3, BOUND).unwrap().is_empty());
    assert!(c.wait_for_records(5, BOUND).unwrap().is_empty());
    assert_eq!((c.request_count(), c.record_count()), (3, 5));
    assert!(c.requests().is_empty());
    assert!(c.records().is_empty());
    let err = c
        .wait_for_requests(4, Duration::from_millis(20))
        .unwrap_err();
    assert_eq!(err.arrived, 3);
    // Subscribers still get every request.
    let fed: Vec<_> = (0..3).map(|_| feed.recv_timeout(BOUND).unwrap()).collect();
    assert!(matches!(fed[0].answered, Answer::Fault(_)));
    assert_eq!(fed[1].record_count(), 2);
    assert_eq!(fed[2].transport, Transport::Grpc);
    assert_eq!(fed[2].record_count(), 3);
    c.clear();
    assert_eq!((c.request_count(), c.record_count()), (0, 0));
}

/// Reads an HTTP/1.1 response head (up to the blank line), byte by byte so
/// nothing after it is consumed.
fn read_head(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte).unwrap() {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn a_request_in_flight_at_drop_reaches_the_subscribers_before_its_answer() {
    use std::io::Write as _;
    use std::net::TcpStream;

    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let addr = c.http_addr().unwrap();
    let feed = c.subscribe();
    let body = sample_request(2).encode_to_vec();
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(BOUND)).unwrap();
    write!(
        conn,
        "POST /v1/logs HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server asks for the body once the handler reads it: the request
    // is in flight from here on.
    let interim = read_head(&mut conn);
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim:?}");

    let dropper = std::thread::spawn(move || drop(c));
    // Shutdown has begun once the listener refuses new connections.
    let deadline = Instant::now() + BOUND;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the collector kept listening");
        std::thread::sleep(Duration::from_millis(5));
    }
    conn.write_all(&body).unwrap();
    let head = read_head(&mut conn);
    dropper.join().unwrap();

    // The feed ends once the collector is gone; it must hold the request
    // that was answered 200.
    let fed: Vec<_> = feed.iter().collect();
    assert!(head.starts_with("HTTP/1.1 200"), "{head:?}");
    assert_eq!(
        fed.len(),
        1,
        "a request answered 200 never reached the feed"
    );
    assert_eq!(fed[0].answered, Answer::Accepted);
    assert_eq!(fed[0].record_count(), 2);
}

#[test]
fn a_delayed_request_in_flight_at_drop_is_answered_as_fed() {
    let c = Collector::start(CollectorConfig::default()).unwrap();
    let feed = c.subscribe();
    let delay = Duration::from_secs(3600);
    c.push_fault(Fault::Delay(delay), 2);
    let http = c.http_logs_endpoint().unwrap();
    let grpc = c.grpc_endpoint().unwrap();
    let http_client_thread = common::post_in_thread(http, sample_request(1).encode_to_vec());
    let grpc_client_thread = common::export_grpc_in_thread(grpc, vec![sample_request(1)]);
    c.wait_for_requests(2, BOUND).unwrap();
    let started = Instant::now();
    drop(c);
    assert!(
        started.elapsed() < BOUND,
        "drop took {:?}",
        started.elapsed()
    );

    // Both were fed as accepted (records counted) on arrival, so both are
    // answered as accepted when the drop cuts the delay short.
    let fed: Vec<_> = feed.iter().collect();
    assert_eq!(fed.len(), 2);
    assert!(fed.iter().all(|r| r.answered == Answer::Delayed(delay)));
    assert_eq!(
        http_client_thread.join().unwrap().unwrap(),
        reqwest::StatusCode::OK
    );
    grpc_client_thread.join().unwrap().unwrap();
}
