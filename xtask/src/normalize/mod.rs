//! Spec normalization: every rewrite `regen` applies, each a named step with a reason and a count.
//!
//! A step that is expected to change something and changes nothing fails the run: it means the upstream spec
//! moved and the rewrite needs a look, not that all is well.

pub mod common;
pub mod iamport;
pub mod portone_v2;
pub mod toss;

use serde_json::Value;

/// One transformation applied to a spec, as recorded in `openapi/README.md`.
pub struct Step {
    pub name: &'static str,
    pub why: &'static str,
    pub count: usize,
}

/// The steps applied to one spec, in order.
#[derive(Default)]
pub struct StepLog {
    pub steps: Vec<Step>,
}

impl StepLog {
    /// Records a step that must have changed at least one thing.
    pub fn required(&mut self, name: &'static str, why: &'static str, count: usize) -> Result<(), crate::Error> {
        if count == 0 {
            return Err(format!(
                "normalization step `{name}` matched nothing: the upstream spec changed, review the step"
            )
            .into());
        }
        self.steps.push(Step { name, why, count });
        Ok(())
    }

    /// Records a step that may legitimately change nothing (a guard against something upstream might add).
    pub fn optional(&mut self, name: &'static str, why: &'static str, count: usize) {
        self.steps.push(Step { name, why, count });
    }
}

/// The output of normalizing one spec.
pub struct Normalized {
    pub spec: Value,
    pub log: StepLog,
}
