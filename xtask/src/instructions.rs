//! `cargo xtask instructions [--calls N] [--keep]`: instructions per cancel call, facade and hand-written, counted
//! by callgrind (`valgrind --tool=callgrind`, Debian package `valgrind`).
//!
//! Builds the `per_call` bench (release, all features), starts its loopback server in a process of its own (not
//! counted), then runs the client side under callgrind twice per provider and side: with 20 and with 20 + N calls
//! after the same warm-up. The difference divided by N is the work of one call, start-up excluded. Callgrind
//! counts instructions executed, whatever else runs on the machine, so two runs agree to within a few
//! instructions per call. A third side, `raw-text`, is the hand-written call decoding the way the facades do (the
//! body's UTF-8 checked once, then `serde_json::from_str`): what the facade adds beyond that technique. `--keep` leaves the callgrind files in `target/callgrind/` for `callgrind_annotate`.
//!
//! `cargo xtask instructions --syscalls` counts system calls per call instead, under `strace -f -c` (Debian package
//! `strace`), with the calls made from a two-worker runtime as the overhead bench makes them: the wake-ups between
//! threads that cost time without costing instructions (an eventfd `write` wakes the thread waiting in
//! `epoll_wait`). Besides the facade and the plain hand-written call, the hand-written call with the facade's attempt
//! timeout (`raw-timeout`), and the same on a client with reqwest's default pool idle timeout of 90 s instead of the
//! crate's 55 s (`raw-timeout-default-pool`). strace slows every system call down, so the counts show which
//! wake-ups happen, not how long they take.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const PROVIDERS: [(&str, &str); 3] = [("portone-v2", "PortOne V2"), ("iamport", "iamport"), ("toss", "Toss")];
const BASE_CALLS: usize = 20;
/// Target: the facade at most 5% above the hand-written call.
const TARGET: f64 = 1.05;

/// Builds the bench and returns its executable.
fn build_bench(root: &Path) -> Result<PathBuf, crate::Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "bench",
            "--no-run",
            "--all-features",
            "--bench",
            "per_call",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err("building the per_call bench failed".into());
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_bench = msg["target"]["name"] == "per_call" && msg["reason"] == "compiler-artifact";
        if let (true, Some(exe)) = (is_bench, msg["executable"].as_str()) {
            return Ok(PathBuf::from(exe));
        }
    }
    Err("cargo did not name the per_call executable".into())
}

/// Instructions callgrind counted for one client run.
fn count(exe: &Path, out_dir: &Path, url: &str, provider: &str, side: &str, calls: usize) -> Result<u64, crate::Error> {
    let out_file = out_dir.join(format!("{provider}-{side}-{calls}.callgrind"));
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .args(["--client", url, provider, side, &calls.to_string()])
        .output()?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{provider} {side} under callgrind failed:\n{log}").into());
    }
    // `==1234== Collected : 123456789`
    log.lines()
        .find_map(|l| l.split_once("Collected :").and_then(|(_, n)| n.trim().parse().ok()))
        .ok_or_else(|| format!("no instruction count in callgrind's output:\n{log}").into())
}

/// System calls by name for one client run under `strace -f -c`, calls made from a multi-thread runtime.
fn syscalls(
    exe: &Path,
    out_dir: &Path,
    url: &str,
    provider: &str,
    side: &str,
    calls: usize,
) -> Result<BTreeMap<String, u64>, crate::Error> {
    let out_file = out_dir.join(format!("{provider}-{side}-{calls}.strace"));
    let out = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out_file)
        .arg(exe)
        .args(["--client", url, provider, side, &calls.to_string(), "--multi-thread"])
        .output()?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{provider} {side} under strace failed:\n{log}").into());
    }
    // `% time  seconds  usecs/call  calls  errors  syscall`, then one row per system call and a `total` row.
    let text = std::fs::read_to_string(&out_file)?;
    let _ = std::fs::remove_file(&out_file);
    Ok(text
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let name = cols.last()?;
            let calls = cols.get(3)?.parse().ok()?;
            Some((name.to_string(), calls))
        })
        .collect())
}

/// The `--syscalls` table: per call, eventfd writes, `epoll_wait`, `futex` and all system calls.
fn syscall_table(exe: &Path, out_dir: &Path, url: &str, calls: usize) -> Result<(), crate::Error> {
    println!(
        "system calls per call, counted by strace -f -c on a two-worker runtime ({BASE_CALLS} and {} calls after \
         the warm-up)\n",
        BASE_CALLS + calls
    );
    println!("| provider | side | write (wake-ups) | epoll_wait | futex | all |\n|---|---|---:|---:|---:|---:|");
    for (provider, label) in PROVIDERS {
        for side in ["facade", "raw", "raw-timeout", "raw-timeout-default-pool"] {
            let low = syscalls(exe, out_dir, url, provider, side, BASE_CALLS)?;
            let high = syscalls(exe, out_dir, url, provider, side, BASE_CALLS + calls)?;
            let per_call = |name: &str| {
                let n = |m: &BTreeMap<String, u64>| m.get(name).copied().unwrap_or(0);
                n(&high).saturating_sub(n(&low)) as f64 / calls as f64
            };
            println!(
                "| {label} | {side} | {:.2} | {:.2} | {:.2} | {:.2} |",
                per_call("write"),
                per_call("epoll_wait"),
                per_call("futex"),
                per_call("total")
            );
        }
    }
    println!(
        "\nraw-timeout: reqwest's timeout set to the facade's first attempt's (67.5 s with the default deadline); \
         raw-timeout-default-pool: the same on a client whose pool keeps idle connections 90 s (reqwest's default) \
         instead of 55 s (the crate's), so that the pool's idle timer is not always due before the attempt's."
    );
    Ok(())
}

pub fn run(args: &[String]) -> Result<ExitCode, crate::Error> {
    let calls = match args.iter().position(|a| a == "--calls") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .ok_or("--calls takes a positive number")?,
        None => 200,
    };
    let keep = args.iter().any(|a| a == "--keep");
    let counting_syscalls = args.iter().any(|a| a == "--syscalls");
    let (tool, package) = if counting_syscalls {
        ("strace", "strace")
    } else {
        ("valgrind", "valgrind")
    };
    if Command::new(tool).arg("--version").output().is_err() {
        return Err(format!("{tool} is not installed (apt-get install {package})").into());
    }
    let root = crate::project_root();
    let exe = build_bench(&root)?;
    let out_dir = root.join("target/callgrind");
    std::fs::create_dir_all(&out_dir)?;

    let mut server = Command::new(&exe)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut url = String::new();
    if let Some(stdout) = server.stdout.take() {
        BufReader::new(stdout).read_line(&mut url)?;
    }
    let url = url.trim().to_string();
    let result = (|| -> Result<bool, crate::Error> {
        if url.is_empty() {
            return Err("the per_call server did not start".into());
        }
        if counting_syscalls {
            syscall_table(&exe, &out_dir, &url, calls)?;
            return Ok(true);
        }
        println!(
            "instructions per call, counted by callgrind ({BASE_CALLS} and {} calls after the warm-up)\n",
            BASE_CALLS + calls
        );
        println!(
            "| provider | facade | raw | facade ÷ raw | raw decoding text | facade ÷ that |\n|---|---:|---:|---:|---:|---:|"
        );
        let mut ok = true;
        for (provider, label) in PROVIDERS {
            let mut per_call = Vec::new();
            for side in ["facade", "raw", "raw-text"] {
                let low = count(&exe, &out_dir, &url, provider, side, BASE_CALLS)?;
                let high = count(&exe, &out_dir, &url, provider, side, BASE_CALLS + calls)?;
                per_call.push(high.saturating_sub(low) as f64 / calls as f64);
            }
            let ratio = per_call[0] / per_call[1];
            let flag = if ratio <= TARGET { "" } else { " (missed)" };
            println!(
                "| {label} | {:.1}k | {:.1}k | {ratio:.3}×{flag} | {:.1}k | {:.3}× |",
                per_call[0] / 1000.0,
                per_call[1] / 1000.0,
                per_call[2] / 1000.0,
                per_call[0] / per_call[2]
            );
            ok &= ratio <= TARGET;
        }
        println!(
            "\ntarget: facade ÷ raw ≤ {TARGET:.2}×. \"raw decoding text\" is the hand-written call decoding as the \
             facades do (UTF-8 checked once, then serde_json::from_str): a diagnostic of what the facade adds beyond \
             that technique."
        );
        Ok(ok)
    })();
    // Closing its stdin stops the server.
    drop(server.stdin.take());
    let _ = server.wait();
    if !keep {
        for entry in std::fs::read_dir(&out_dir)?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "callgrind") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(if result? { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
