//! dcp-rust-peers: the Rust side of dcp's benchmark comparison (see docs/benchmarks.md).
//!
//! Runs the same workloads as the C++ `dcp_compare`, with the same parameters and the same output
//! (one JSON object per line on stdout; progress on stderr; "CHECK FAILED" and exit status 1 if any
//! message is lost, duplicated or out of per-producer order):
//!
//!   mpsc_throughput  1, 2 and 4 producers each send a numbered sequence to one consumer
//!   ping_pong        two threads, two channels; per-round-trip latency, median and p99
//!
//! Contenders: std::sync::mpsc (sync_channel when bounded, channel when unbounded) and
//! crossbeam-channel (bounded / unbounded). Both block the receiver when empty and the sender when
//! a bounded channel is full. Threads are not pinned.
//!
//! Build offline: `cargo build --release --offline` (crates come from /usr/share/cargo/registry).

use std::process;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

fn fail(what: &str) -> ! {
    eprintln!("CHECK FAILED: {what}");
    process::exit(1);
}

/// One kind of channel. `capacity == 0` means unbounded.
trait Channel {
    const IMPL: &'static str;
    type Sender: Clone + Send + 'static;
    type Receiver: Send + 'static;
    fn make(capacity: usize) -> (Self::Sender, Self::Receiver);
    /// Blocks while a bounded channel is full; false when every receiver is gone.
    fn try_deliver(sender: &Self::Sender, value: u64) -> bool;
    /// None once every sender is gone and the channel is drained.
    fn recv(receiver: &Self::Receiver) -> Option<u64>;

    /// try_deliver(), where a receiver that is gone means the benchmark is broken.
    fn send(sender: &Self::Sender, value: u64) {
        if !Self::try_deliver(sender, value) {
            fail(&format!("{}: send failed while the receiver is alive", Self::IMPL));
        }
    }
}

struct StdSyncChannel;
impl Channel for StdSyncChannel {
    const IMPL: &'static str = "std::sync::mpsc";
    type Sender = std::sync::mpsc::SyncSender<u64>;
    type Receiver = std::sync::mpsc::Receiver<u64>;
    fn make(capacity: usize) -> (Self::Sender, Self::Receiver) {
        std::sync::mpsc::sync_channel(capacity)
    }
    fn try_deliver(sender: &Self::Sender, value: u64) -> bool {
        sender.send(value).is_ok()
    }
    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

struct StdChannel;
impl Channel for StdChannel {
    const IMPL: &'static str = "std::sync::mpsc";
    type Sender = std::sync::mpsc::Sender<u64>;
    type Receiver = std::sync::mpsc::Receiver<u64>;
    fn make(_capacity: usize) -> (Self::Sender, Self::Receiver) {
        std::sync::mpsc::channel()
    }
    fn try_deliver(sender: &Self::Sender, value: u64) -> bool {
        sender.send(value).is_ok()
    }
    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

struct CrossbeamChannel;
impl Channel for CrossbeamChannel {
    const IMPL: &'static str = "crossbeam-channel";
    type Sender = crossbeam_channel::Sender<u64>;
    type Receiver = crossbeam_channel::Receiver<u64>;
    fn make(capacity: usize) -> (Self::Sender, Self::Receiver) {
        if capacity > 0 {
            crossbeam_channel::bounded(capacity)
        } else {
            crossbeam_channel::unbounded()
        }
    }
    fn try_deliver(sender: &Self::Sender, value: u64) -> bool {
        sender.send(value).is_ok()
    }
    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

/// A message carries its producer in the top bits and its sequence number in the low 40 bits.
const SEQUENCE_BITS: u32 = 40;
const SEQUENCE_MASK: u64 = (1u64 << SEQUENCE_BITS) - 1;

fn encode(producer: u64, sequence: u64) -> u64 {
    (producer << SEQUENCE_BITS) | sequence
}

/// Waits until a number of threads have arrived, then releases them all at once.
#[derive(Default)]
struct StartLine {
    arrived: AtomicUsize,
    go: AtomicBool,
}

impl StartLine {
    fn arrive_and_wait(&self) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        while !self.go.load(Ordering::Acquire) {
            thread::yield_now();
        }
    }
    fn wait_for(&self, count: usize) {
        while self.arrived.load(Ordering::SeqCst) < count {
            thread::yield_now();
        }
    }
    fn release(&self) {
        self.go.store(true, Ordering::Release);
    }
}

/// Messages per second; every message is checked.
fn run_throughput<C: Channel>(
    label: &str,
    capacity: usize,
    producers: u64,
    per_producer: u64,
) -> f64 {
    let (sender, receiver) = C::make(capacity);
    let start = Arc::new(StartLine::default());
    let threads: Vec<_> = (0..producers)
        .map(|p| {
            let sender = sender.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.arrive_and_wait();
                for s in 0..per_producer {
                    C::send(&sender, encode(p, s));
                }
            })
        })
        .collect();
    drop(sender); // from now on only the producers' clones keep the channel open
    start.wait_for(producers as usize);

    let total = per_producer * producers;
    let mut next = vec![0u64; producers as usize];
    let mut checksum = 0u64;
    let begin = Instant::now();
    start.release();
    for i in 0..total {
        let value = C::recv(&receiver).unwrap_or_else(|| {
            fail(&format!(
                "{label}: channel closed after {i} of {total} messages"
            ))
        });
        let producer = (value >> SEQUENCE_BITS) as usize;
        let sequence = value & SEQUENCE_MASK;
        if producer >= next.len() || sequence != next[producer] {
            fail(&format!(
                "{label}: message {i} is producer {producer} seq {sequence}, expected seq {:?}",
                next.get(producer)
            ));
        }
        next[producer] += 1;
        checksum = checksum.wrapping_add(value);
    }
    let elapsed = begin.elapsed().as_secs_f64();
    for thread in threads {
        thread.join().expect("producer thread panicked");
    }
    if C::recv(&receiver).is_some() {
        fail(&format!(
            "{label}: recv after the last sender was dropped did not report closed"
        ));
    }
    let expected = (0..producers).fold(0u64, |sum, p| {
        sum.wrapping_add(encode(p, 0).wrapping_mul(per_producer))
            .wrapping_add(per_producer * (per_producer - 1) / 2)
    });
    if checksum != expected {
        fail(&format!("{label}: checksum mismatch"));
    }
    total as f64 / elapsed
}

struct Latency {
    median_ns: f64,
    p99_ns: f64,
    round_trips_per_sec: f64,
}

/// Same index rule as the C++ side: sorted[fraction * (n - 1)].
fn percentile(values: &mut [f64], fraction: f64) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[(fraction * (values.len() - 1) as f64) as usize]
}

/// The main thread sends i and waits for i + 1 from the echo thread; each round trip is timed.
fn run_ping_pong<C: Channel>(label: &str, capacity: usize, round_trips: u64) -> Latency {
    let warmup = std::cmp::min(1000, round_trips / 10);
    let total = warmup + round_trips;
    let (ping_sender, ping_receiver) = C::make(capacity);
    let (pong_sender, pong_receiver) = C::make(capacity);
    let start = Arc::new(StartLine::default());
    let echo_start = Arc::clone(&start);
    let echo = thread::spawn(move || {
        echo_start.arrive_and_wait();
        for _ in 0..total {
            match C::recv(&ping_receiver) {
                Some(value) => C::send(&pong_sender, value + 1),
                None => fail("ping-pong: ping channel closed early"),
            }
        }
    });
    start.wait_for(1);
    start.release();

    let mut samples = Vec::with_capacity(round_trips as usize);
    let mut measured_begin = Instant::now();
    for i in 0..total {
        if i == warmup {
            measured_begin = Instant::now();
        }
        let sent = Instant::now();
        C::send(&ping_sender, i);
        let reply = C::recv(&pong_receiver)
            .unwrap_or_else(|| fail(&format!("{label}: pong channel closed early")));
        let received = Instant::now();
        if reply != i + 1 {
            fail(&format!("{label}: ping-pong reply {reply} for {i}"));
        }
        if i >= warmup {
            samples.push((received - sent).as_nanos() as f64);
        }
    }
    let elapsed = measured_begin.elapsed().as_secs_f64();
    echo.join().expect("echo thread panicked");
    drop(ping_sender);
    if C::recv(&pong_receiver).is_some() {
        fail(&format!(
            "{label}: pong channel not closed after the echo thread ended"
        ));
    }
    Latency {
        median_ns: percentile(&mut samples, 0.50),
        p99_ns: percentile(&mut samples, 0.99),
        round_trips_per_sec: round_trips as f64 / elapsed,
    }
}

struct Contender {
    implementation: &'static str,
    bounded: bool,
    throughput: fn(&str, usize, u64, u64) -> f64,
    ping_pong: fn(&str, usize, u64) -> Latency,
}

fn contender<C: Channel>(bounded: bool) -> Contender {
    Contender {
        implementation: C::IMPL,
        bounded,
        throughput: run_throughput::<C>,
        ping_pong: run_ping_pong::<C>,
    }
}

struct Options {
    messages: u64,
    round_trips: u64,
    capacity: usize,
    reps: usize,
    workload: String,
    impl_filter: String,
}

const USAGE: &str = "usage: dcp-rust-peers [--quick] [--messages N] [--round-trips N] [--capacity N] [--reps R]\n\
                     \x20                     [--workload all|mpsc_throughput|ping_pong|thread_per_event]\n\
                     \x20                     [--impl SUBSTRING]\n\
                     Prints one JSON object per line; medians over R repetitions.\n\
                     (--events and --pool-threads are accepted and ignored: no Rust thread_per_event peer.)";

fn parse_options() -> Options {
    let mut options = Options {
        messages: 2_000_000,
        round_trips: 100_000,
        capacity: 1024,
        reps: 5,
        workload: "all".to_string(),
        impl_filter: String::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage_error = || -> ! {
        eprintln!("{USAGE}");
        process::exit(2);
    };
    let number = |text: String| -> u64 { text.parse().unwrap_or_else(|_| usage_error()) };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || -> String { rest.next().cloned().unwrap_or_else(|| usage_error()) };
        match arg.as_str() {
            "--quick" => {
                options.messages = 100_000;
                options.round_trips = 5_000;
                options.reps = 1;
            }
            "--messages" => options.messages = number(value()),
            "--round-trips" => options.round_trips = number(value()),
            "--capacity" => options.capacity = number(value()) as usize,
            "--reps" => options.reps = number(value()) as usize,
            "--events" | "--pool-threads" => {
                number(value());
            }
            "--workload" => options.workload = value(),
            "--impl" => options.impl_filter = value(),
            "--help" | "-h" => {
                eprintln!("{USAGE}");
                process::exit(0);
            }
            _ => usage_error(),
        }
    }
    if options.reps < 1 || options.capacity < 1 || options.messages < 4 || options.round_trips < 1 {
        eprintln!("dcp-rust-peers: sizes and --reps must be positive (--messages >= 4)");
        process::exit(2);
    }
    options
}

fn median(values: &[f64]) -> f64 {
    percentile(&mut values.to_vec(), 0.5)
}

fn number_json(value: f64) -> String {
    format!("{value:.6e}")
}

struct Row {
    workload: &'static str,
    implementation: &'static str,
    producers: u64,
    bounded: bool,
    rate: Vec<f64>,
    median_ns: Vec<f64>,
    p99_ns: Vec<f64>,
}

fn print_row(row: &Row, options: &Options) {
    let min = row.rate.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = row.rate.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let optional = |values: &[f64]| {
        if values.is_empty() {
            "null".to_string()
        } else {
            number_json(median(values))
        }
    };
    let mut line = format!(
        "{{\"workload\":\"{}\",\"impl\":\"{}\",\"lang\":\"rust\",\"producers\":{},\"bounded\":{},\"capacity\":{},\
         \"wait\":\"blocking\",\"reps\":{},\"msgs_per_sec\":{},\"msgs_per_sec_min\":{},\"msgs_per_sec_max\":{},\
         \"median_ns\":{},\"p99_ns\":{}",
        row.workload,
        row.implementation,
        row.producers,
        row.bounded,
        if row.bounded { options.capacity.to_string() } else { "null".to_string() },
        row.rate.len(),
        number_json(median(&row.rate)),
        number_json(min),
        number_json(max),
        optional(&row.median_ns),
        optional(&row.p99_ns),
    );
    match row.workload {
        "mpsc_throughput" => line += &format!(",\"messages\":{}", options.messages / 4 * 4),
        _ => line += &format!(",\"round_trips\":{}", options.round_trips),
    }
    line.push('}');
    println!("{line}");
}

fn main() {
    let options = parse_options();
    let all = options.workload == "all";
    let do_throughput = all || options.workload == "mpsc_throughput";
    let do_ping_pong = all || options.workload == "ping_pong";
    if !do_throughput && !do_ping_pong && options.workload != "thread_per_event" {
        eprintln!("{USAGE}");
        process::exit(2);
    }

    let contenders: Vec<Contender> = vec![
        contender::<StdSyncChannel>(true),
        contender::<CrossbeamChannel>(true),
        contender::<StdChannel>(false),
        contender::<CrossbeamChannel>(false),
    ]
    .into_iter()
    .filter(|c| c.implementation.contains(options.impl_filter.as_str()))
    .collect();
    let total_messages = options.messages / 4 * 4;

    let mut rows: Vec<Row> = Vec::new();
    let mut row_for = |workload: &'static str, c: &Contender, producers: u64| -> usize {
        match rows.iter().position(|r| {
            r.workload == workload
                && r.implementation == c.implementation
                && r.producers == producers
                && r.bounded == c.bounded
        }) {
            Some(index) => index,
            None => {
                rows.push(Row {
                    workload,
                    implementation: c.implementation,
                    producers,
                    bounded: c.bounded,
                    rate: Vec::new(),
                    median_ns: Vec::new(),
                    p99_ns: Vec::new(),
                });
                rows.len() - 1
            }
        }
    };
    let mut results: Vec<(usize, f64, Option<Latency>)> = Vec::new();

    for rep in 1..=options.reps {
        eprintln!("dcp-rust-peers: repetition {rep}/{}", options.reps);
        if do_throughput {
            for producers in [1u64, 2, 4] {
                for c in &contenders {
                    let label = format!(
                        "{} ({})",
                        c.implementation,
                        if c.bounded { "bounded" } else { "unbounded" }
                    );
                    let capacity = if c.bounded { options.capacity } else { 0 };
                    let rate =
                        (c.throughput)(&label, capacity, producers, total_messages / producers);
                    results.push((row_for("mpsc_throughput", c, producers), rate, None));
                }
            }
        }
        if do_ping_pong {
            for c in &contenders {
                let label = format!(
                    "{} ({})",
                    c.implementation,
                    if c.bounded { "bounded" } else { "unbounded" }
                );
                let capacity = if c.bounded { options.capacity } else { 0 };
                let latency = (c.ping_pong)(&label, capacity, options.round_trips);
                results.push((
                    row_for("ping_pong", c, 1),
                    latency.round_trips_per_sec,
                    Some(latency),
                ));
            }
        }
    }

    for (index, rate, latency) in results {
        rows[index].rate.push(rate);
        if let Some(latency) = latency {
            rows[index].median_ns.push(latency.median_ns);
            rows[index].p99_ns.push(latency.p99_ns);
        }
    }
    for row in &rows {
        print_row(row, &options);
    }
}
