//! `cargo xtask coverage`: every operation of every normalized spec must have a generated method.
pub fn run(_args: &[String]) -> Result<std::process::ExitCode, crate::Error> {
    Err("not yet implemented".into())
}
