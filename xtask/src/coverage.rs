//! `cargo xtask coverage`: every operation of every normalized spec must have a generated method.
//!
//! Builds the crate (all features) to find the generated code in the build script's `OUT_DIR`, then compares the
//! spec's operationIds with the `pub async fn`s of the generated `impl Client`, and counts the opened unions and
//! enums. Prints one line per provider and fails if any operation has no method, or if a spec has fewer
//! operations than the floor below: a regen that silently drops operations must not pass as "complete".

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, ExitCode};

/// (name, normalized spec, generated file, fewest operations the spec may have). Raise a floor when operations
/// are added; lowering one needs a reason in the commit.
const APIS: &[(&str, &str, &str, usize)] = &[
    ("portone-v2", "portone-v2.json", "portone_v2.rs", 147),
    ("iamport", "iamport-v1.json", "iamport_v1.rs", 82),
    // Toss's core API reference lists 18 operations; the project's spec covers all of them.
    ("toss", "toss-v1.json", "toss_v1.rs", 18),
];

fn out_dir() -> Result<String, crate::Error> {
    let root = crate::project_root();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--package",
            "kr-payments",
            "--lib",
            "--all-features",
            "--message-format=json",
        ])
        .output()?;
    if !out.status.success() {
        return Err(format!("cargo build failed:\n{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if msg["reason"] == "build-script-executed"
            && msg["package_id"].as_str().is_some_and(|p| p.contains("kr-payments"))
            && let Some(dir) = msg["out_dir"].as_str()
        {
            return Ok(dir.to_string());
        }
    }
    Err("no build-script output directory for kr-payments".into())
}

/// progenitor's method name for an operationId (heck's snake case, as progenitor uses).
fn method_name(operation_id: &str) -> String {
    heck::ToSnakeCase::to_snake_case(operation_id)
}

pub fn run(_args: &[String]) -> Result<ExitCode, crate::Error> {
    let out = out_dir()?;
    let root = crate::project_root();
    let mut missing_total = 0;
    let mut below_floor = 0;
    for (api, spec_file, gen_file, floor) in APIS {
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(root.join("openapi").join(spec_file))?)?;
        let code = std::fs::read_to_string(std::path::Path::new(&out).join(gen_file))?;
        let generated: BTreeSet<String> = code
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split(['<', '(']).next())
            .map(|name| name.trim_start_matches("r#").to_string())
            .collect();
        let mut in_spec = 0;
        let mut missing = Vec::new();
        for item in spec["paths"].as_object().into_iter().flat_map(|p| p.values()) {
            for (method, op) in item.as_object().into_iter().flatten() {
                if !matches!(method.as_str(), "get" | "post" | "put" | "delete" | "patch") {
                    continue;
                }
                in_spec += 1;
                let id = op["operationId"].as_str().unwrap_or_default();
                if !generated.contains(&method_name(id)) {
                    missing.push(id.to_string());
                }
            }
        }
        // The open-enum pass in build.rs adds exactly one of these lines to each union and each string enum.
        let unions = code
            .lines()
            .filter(|l| l.trim_start().starts_with("Unrecognized(") && l.trim_end().ends_with("Unrecognized),"))
            .count();
        let enums = code
            .lines()
            .filter(|l| l.trim() == "Unrecognized(::std::string::String),")
            .count();
        println!(
            "{api}: {}/{} operations, {unions} unions, {enums} enums",
            in_spec - missing.len(),
            in_spec
        );
        for m in &missing {
            println!("  no generated method for operation `{m}`");
        }
        if in_spec < *floor {
            println!("  the spec has {in_spec} operations, fewer than the floor of {floor}");
            below_floor += 1;
        }
        missing_total += missing.len();
    }
    Ok(if missing_total == 0 && below_floor == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
