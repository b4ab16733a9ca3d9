//! `cargo xtask build-cost [--debug|--release|--incremental]`: what the crate costs a merchant's build.
//!
//! For each provider alone and for all features: the clean build of the crate itself (build script — code
//! generation — plus the library, with dependencies already built), its wall time and the peak RSS of the largest
//! process (rustc, or the build script). Then the incremental rebuild after touching a facade file, which must not
//! re-run generation (`--incremental`: that check alone, after one build of each feature set). Uses its own target directory (`target/build-cost`), so it never disturbs your builds.
//! Peak memory comes from GNU time (`/usr/bin/time`, Debian package `time`); without it memory is reported as n/a.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Every provider and every PortOne V2 API area: what `--all-features` generates (TLS: rustls, the default).
const ALL: &str = "portone-v2,portone-v2-platform,portone-v2-b2b,iamport,toss,rustls";

/// The crate's default features.
const DEFAULT: &str = "portone-v2,iamport,toss,rustls";

/// (label, features, held to the ≤ 0.5× target): each provider alone as a merchant enables it, PortOne V2's opt-in
/// API areas for information, and all features as the reference.
const CONFIGS: &[(&str, &str, bool)] = &[
    ("portone-v2 alone (payments API)", "portone-v2,rustls", true),
    (
        "portone-v2 with platform and b2b",
        "portone-v2-platform,portone-v2-b2b,rustls",
        false,
    ),
    ("iamport alone", "iamport,rustls", true),
    ("toss alone", "toss,rustls", true),
    ("default features", DEFAULT, false),
    ("all features", ALL, false),
];

struct Measure {
    seconds: f64,
    peak_mib: Option<f64>,
    ran_build_script: bool,
}

fn cargo_build(root: &Path, target: &Path, features: &str, release: bool) -> Result<Measure, crate::Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let gnu_time = Path::new("/usr/bin/time").exists();
    let stats = target.join("time.txt");
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").arg("-o").arg(&stats).arg(&cargo);
        c
    } else {
        Command::new(&cargo)
    };
    cmd.current_dir(root).env("CARGO_TARGET_DIR", target).args([
        "build",
        "-v",
        "--lib",
        "-p",
        "kr-payments",
        "--no-default-features",
        "--features",
        features,
    ]);
    if release {
        cmd.arg("--release");
    }
    let started = Instant::now();
    let out = cmd.output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("build failed for {features}:\n{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let log = String::from_utf8_lossy(&out.stderr);
    let ran_build_script = log
        .lines()
        .any(|l| l.contains("Running") && l.contains("kr-payments") && l.contains("build-script-build"));
    let peak_mib = if gnu_time {
        std::fs::read_to_string(&stats)
            .ok()
            .and_then(|s| s.trim().lines().last()?.trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    } else {
        None
    };
    Ok(Measure {
        seconds,
        peak_mib,
        ran_build_script,
    })
}

fn clean_crate(root: &Path, target: &Path, release: bool) -> Result<(), crate::Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .args(["clean", "-p", "kr-payments"]);
    if release {
        cmd.arg("--release");
    }
    if !cmd.output()?.status.success() {
        return Err("cargo clean -p kr-payments failed".into());
    }
    Ok(())
}

fn mem(m: &Measure) -> String {
    m.peak_mib.map_or("n/a".into(), |v| format!("{v:.0} MiB"))
}

pub fn run(args: &[String]) -> Result<ExitCode, crate::Error> {
    let root = crate::project_root();
    let target = root.join("target/build-cost");
    std::fs::create_dir_all(&target)?;
    let profiles: Vec<bool> = if args.iter().any(|a| a == "--release") {
        vec![true]
    } else if args.iter().any(|a| a == "--debug") {
        vec![false]
    } else {
        vec![false, true]
    };
    if args.iter().any(|a| a == "--incremental") {
        println!("| profile | what | time | peak RSS | target |\n|---|---|---|---|---|");
        let ok = incremental(&root, &target)?;
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    println!("| profile | features | clean crate build | peak RSS |\n|---|---|---|---|");
    let mut ok = true;
    for release in profiles {
        let profile = if release { "release" } else { "debug" };
        // Dependencies first, so each figure below is the crate alone.
        cargo_build(&root, &target, ALL, release)?;
        let mut all = 0.0;
        let mut alone = Vec::new();
        for (label, features, judged) in CONFIGS {
            clean_crate(&root, &target, release)?;
            let m = cargo_build(&root, &target, features, release)?;
            println!("| {profile} | {label} | {:.1} s | {} |", m.seconds, mem(&m));
            if *features == ALL {
                all = m.seconds;
            } else {
                alone.push((*label, m.seconds, *judged));
            }
        }
        for (label, s, judged) in alone {
            let ratio = s / all;
            let target = if judged { "target ≤ 0.50×" } else { "for information" };
            println!("| {profile} | {label} / all features | {ratio:.2}× | {target} |");
            ok &= !judged || ratio <= 0.5;
        }
        if !release {
            ok &= incremental(&root, &target)?;
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The facade files whose edit the incremental check times: the module root and the cancel builder (the file a
/// refund change touches most).
const TOUCHED: &[&str] = &["src/portone_v2/mod.rs", "src/portone_v2/cancel.rs"];

/// The debug rebuild after touching each of [`TOUCHED`], for default and all features: it must not re-run
/// generation and should take at most 10 s.
fn incremental(root: &Path, target: &Path) -> Result<bool, crate::Error> {
    let mut ok = true;
    for (label, features) in [("default features", DEFAULT), ("all features", ALL)] {
        for file in TOUCHED {
            cargo_build(root, target, features, false)?;
            let facade = root.join(file);
            let now = std::time::SystemTime::now();
            std::fs::File::options().append(true).open(&facade)?.set_modified(now)?;
            let m = cargo_build(root, target, features, false)?;
            println!(
                "| debug | incremental after touching {file} ({label}) | {:.1} s | {} (generation re-ran: {}) | target ≤ 10 s |",
                m.seconds,
                mem(&m),
                m.ran_build_script
            );
            ok &= !m.ran_build_script && m.seconds <= 10.0;
        }
    }
    Ok(ok)
}
