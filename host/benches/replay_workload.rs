//! The whole `siglearn replay` on the big workload of issue 12, timed as a
//! child process: 1,000,000 signals over about 2.69 M candles (the 28 files
//! of `../shared/bench/candle_files.txt`, ten shifted copies of each), built
//! first by `siglearn::synth::workload`, without Python.
//!
//! Settings, from the environment (defaults in brackets):
//!
//! * `SIGLEARN_WORKLOAD_SCALE` [10], `_SIGNALS` [1000000], `_SEED` [7],
//!   `_ATR` [`0.5,3`: TP/SL distances ATR × U(LO, HI)], `_HOLD` [`10,200`:
//!   max hold in candles]: the workload;
//! * `SIGLEARN_WORKLOAD_DIR` [`target/tmp/replay-workload`]: where its files
//!   (and the trades of each run) are written;
//! * `SIGLEARN_WORKLOAD_RUNS` [3]: timed replays;
//! * `SIGLEARN_WORKLOAD_ONLY=1`: write the files, print how to replay them
//!   (and run the numba peer on them), and stop;
//! * `SIGLEARN_DATA_DIR` and `SIGLEARN_WORKLOAD_LIST`: the source files
//!   [`../shared/data` and `../shared/bench/candle_files.txt`; without
//!   them, every bundled demo candle file];
//! * `SIGLEARN_BIN`: the program to time [the `siglearn` cargo built for
//!   this bench, with the same optimised profile].
//!
//! Each run is the whole process: reading the CSVs, deciding every outcome,
//! writing the trades and the report. Events are candles + signals. CPU time
//! and peak RSS come from GNU time (`/usr/bin/time`) when it is there.
//!
//! Run: `cargo bench -p siglearn --bench replay_workload`

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use siglearn::synth::workload::{CANDLE_LIST, Workload, write_candles, write_signals};

const GNU_TIME: &str = "/usr/bin/time";

fn main() {
    let (workload, sources) = workload();
    let dir = std::env::var_os("SIGLEARN_WORKLOAD_DIR")
        .map_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-workload"), PathBuf::from);
    let candle_dir = dir.join("candles");
    let signals = dir.join("signals.csv");
    eprintln!(
        "replay_workload: {} source files from {sources} x {} copies, {} signals \
         (seed {}, TP/SL ATR x U({}, {}), hold {}..={} candles)",
        workload.files.len(),
        workload.scale,
        thousands(workload.signals as u64),
        workload.seed,
        workload.atr.0,
        workload.atr.1,
        workload.hold.0,
        workload.hold.1,
    );

    let start = Instant::now();
    let written =
        write_candles(&workload, &candle_dir).unwrap_or_else(|e| panic!("writing the candles: {e}"));
    eprintln!(
        "  wrote {} candle files, {} candles, to {} in {}",
        written.files.len(),
        thousands(written.candles),
        candle_dir.display(),
        seconds(start.elapsed())
    );
    let start = Instant::now();
    let drawn = write_signals(&workload, &signals).unwrap_or_else(|e| panic!("writing the signals: {e}"));
    eprintln!(
        "  wrote {} signals ({} draws refused and drawn again) to {} in {}",
        thousands(drawn.signals as u64),
        drawn.redrawn,
        signals.display(),
        seconds(start.elapsed())
    );
    let candles: Vec<PathBuf> = written.files.iter().map(|name| candle_dir.join(name)).collect();
    let events = written.candles + drawn.signals as u64;

    if flag("SIGLEARN_WORKLOAD_ONLY") {
        print_commands(&dir, &candle_dir, &signals);
        return;
    }
    let program = std::env::var_os("SIGLEARN_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_siglearn")), PathBuf::from);
    let runs: usize = setting("SIGLEARN_WORKLOAD_RUNS", 3);
    let timed = gnu_time_works(&dir);
    if !timed {
        eprintln!("  ({GNU_TIME} -f is not available: no CPU time or peak RSS, wall time only)");
    }
    eprintln!("timing {} replay ... ({runs} runs, {} events each)", program.display(), thousands(events));
    let mut walls = Vec::new();
    let mut peak_kib = Vec::new();
    for run in 1..=runs {
        let trades = dir.join("trades.csv");
        let usage = replay(&program, &dir, &signals, &trades, &candles, timed);
        let mut line = format!(
            "  run {run}/{runs}: {} wall, {:.2} M events/s",
            seconds(usage.wall),
            events as f64 / usage.wall.as_secs_f64() / 1e6
        );
        if let Some((cpu, kib)) = usage.cpu_and_peak {
            line += &format!(", {cpu:.2} s CPU (user + sys), {} MiB peak RSS", kib / 1024);
            peak_kib.push(kib);
        }
        if run == 1 {
            let rows = std::fs::read_to_string(&trades).unwrap().lines().count().saturating_sub(1);
            line += &format!(", {} trades", thousands(rows as u64));
        }
        eprintln!("{line}");
        walls.push(usage.wall);
    }
    walls.sort();
    let median = walls[walls.len() / 2];
    let mut summary = format!(
        "replay_workload: median of {runs}: {} wall, {:.2} M events/s (fastest {})",
        seconds(median),
        events as f64 / median.as_secs_f64() / 1e6,
        seconds(walls[0])
    );
    if let Some(kib) = peak_kib.iter().max() {
        summary += &format!(", peak RSS {} MiB", kib / 1024);
    }
    println!("{summary}");
    print_commands(&dir, &candle_dir, &signals);
}

/// The workload the environment asks for, and where its sources are.
fn workload() -> (Workload, String) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared =
        manifest.join("../../shared").canonicalize().unwrap_or_else(|_| manifest.join("../../shared"));
    let (shared_data, shared_list) = (shared.join("data"), shared.join("bench/candle_files.txt"));
    let data = match std::env::var_os("SIGLEARN_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if shared_data.is_dir() => shared_data.clone(),
        None => manifest.join("data/demo"),
    };
    let list = std::env::var_os("SIGLEARN_WORKLOAD_LIST")
        .map(PathBuf::from)
        .or_else(|| (data == shared_data && shared_list.is_file()).then_some(shared_list));
    let (mut workload, sources) = match list {
        Some(list) => {
            let workload = Workload::from_list(&data, &list).unwrap_or_else(|e| panic!("{e}"));
            (workload, format!("{} (listed in {})", data.display(), list.display()))
        }
        None => (Workload::new(&data, csv_files(&data)), data.display().to_string()),
    };
    workload.scale = setting("SIGLEARN_WORKLOAD_SCALE", workload.scale);
    workload.signals = setting("SIGLEARN_WORKLOAD_SIGNALS", workload.signals);
    workload.seed = setting("SIGLEARN_WORKLOAD_SEED", workload.seed);
    workload.atr = pair("SIGLEARN_WORKLOAD_ATR", workload.atr);
    workload.hold = pair("SIGLEARN_WORKLOAD_HOLD", workload.hold);
    (workload, sources)
}

/// The names of every CSV file in `dir`, sorted.
fn csv_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

/// The variable `name` read as a `T`, else `default`. A value that does not
/// read stops the bench, naming the variable.
fn setting<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{name}={text}: not a valid value")),
        Err(_) => default,
    }
}

/// Whether the variable `name` is set to anything but empty or `0`.
fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|text| !text.is_empty() && text != "0")
}

/// The variable `name` as `LO,HI`, else `default`.
fn pair<T: FromStr + Copy>(name: &str, default: (T, T)) -> (T, T) {
    let Ok(text) = std::env::var(name) else { return default };
    let parts: Vec<T> = text.split(',').filter_map(|part| part.trim().parse().ok()).collect();
    match parts[..] {
        [low, high] => (low, high),
        _ => panic!("{name}={text}: expected LO,HI (two numbers)"),
    }
}

/// Whether `/usr/bin/time -f ... -o FILE` runs (GNU time).
fn gnu_time_works(dir: &Path) -> bool {
    let out = dir.join("time-probe.txt");
    let works = Command::new(GNU_TIME)
        .args(["-f", "%M", "-o"])
        .arg(&out)
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
        && std::fs::read_to_string(&out).is_ok_and(|text| text.trim().parse::<u64>().is_ok());
    let _ = std::fs::remove_file(out);
    works
}

/// What one run took.
struct Usage {
    wall: Duration,
    /// CPU seconds (user + system) and peak RSS in KiB, from GNU time.
    cpu_and_peak: Option<(f64, u64)>,
}

/// Runs the whole replay once; stops the bench if it fails, showing its
/// error output.
fn replay(
    program: &Path,
    dir: &Path,
    signals: &Path,
    trades: &Path,
    candles: &[PathBuf],
    timed: bool,
) -> Usage {
    let usage_file = dir.join("replay.time");
    let mut command = if timed {
        let mut command = Command::new(GNU_TIME);
        command.args(["-f", "%U %S %M", "-o"]).arg(&usage_file).arg(program);
        command
    } else {
        Command::new(program)
    };
    command.arg("replay").arg("--signals").arg(signals).arg("--trades-out").arg(trades).arg("--candles");
    command.args(candles);
    let stdout = std::fs::File::create(dir.join("replay.out")).unwrap();
    let stderr = std::fs::File::create(dir.join("replay.err")).unwrap();
    let start = Instant::now();
    let status = command.stdout(stdout).stderr(stderr).status().unwrap_or_else(|e| {
        panic!(
            "cannot run {}: {e}; build it with `cargo build --release -p siglearn`, or set SIGLEARN_BIN",
            program.display()
        )
    });
    let wall = start.elapsed();
    if !status.success() {
        let errors = std::fs::read_to_string(dir.join("replay.err")).unwrap_or_default();
        panic!("siglearn replay failed ({status}):\n{errors}");
    }
    let cpu_and_peak = timed.then(|| {
        let text = std::fs::read_to_string(&usage_file).unwrap();
        // GNU time writes the command's own failure notes first; the figures are the last line.
        let fields: Vec<f64> =
            text.lines().last().unwrap_or("").split_whitespace().filter_map(|f| f.parse().ok()).collect();
        match fields[..] {
            [user, system, kib] => (user + system, kib as u64),
            _ => panic!("cannot read {}: {text:?}", usage_file.display()),
        }
    });
    Usage { wall, cpu_and_peak }
}

/// How to run siglearn, and the numba peer of `../shared/bench`, on the files.
fn print_commands(dir: &Path, candle_dir: &Path, signals: &Path) {
    let list = candle_dir.join(CANDLE_LIST);
    println!(
        "the workload's files, for siglearn or the numba peer (../shared/bench/README.md sets up its Python):"
    );
    println!("  C=$(sed 's#^#{}/#' {})", candle_dir.display(), list.display());
    println!(
        "  siglearn replay --signals {} --trades-out {} --candles $C",
        signals.display(),
        dir.join("ours.csv").display()
    );
    println!(
        "  python3 peer_numba.py --signals {} --out {} $C",
        signals.display(),
        dir.join("numba.csv").display()
    );
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}
