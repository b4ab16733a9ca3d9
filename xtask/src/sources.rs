//! Where each upstream spec comes from. The pins record the version the project was last regenerated from;
//! `regen` reports when the input it reads no longer matches its pin.

/// One upstream input of `cargo xtask regen`.
pub struct Upstream {
    /// Name of the normalized spec written to `openapi/<api>.json`.
    pub api: &'static str,
    /// File name inside the `--from` directory.
    pub file: &'static str,
    /// Download address used without `--from`.
    pub url: &'static str,
    /// Human description of the source for `openapi/README.md`.
    pub source: &'static str,
    /// Commit the pinned file was taken at, and when.
    pub commit: &'static str,
    pub date: &'static str,
    /// sha256 of the pinned upstream file.
    pub sha256: &'static str,
}

pub const PORTONE_V2: Upstream = Upstream {
    api: "portone-v2",
    file: "portone-v2.openapi.json",
    url: "https://raw.githubusercontent.com/portone-io/developers.portone.io/af926bd2cdd7c3c6ee6d2e1f636e9a1f3268df32/src/schema/v2.openapi.json",
    source: "github.com/portone-io/developers.portone.io `src/schema/v2.openapi.json` (OpenAPI 3.0.3)",
    commit: "af926bd2cdd7c3c6ee6d2e1f636e9a1f3268df32",
    date: "2026-08-06 (file last changed 2026-07-03)",
    sha256: "6fa978721dc6cb3a1d3403567d106e17214049e72ddcff581f68c0f712150af1",
};

pub const IAMPORT_V1: Upstream = Upstream {
    api: "iamport-v1",
    file: "iamport-v1.openapi.json",
    url: "https://raw.githubusercontent.com/portone-io/developers.portone.io/af926bd2cdd7c3c6ee6d2e1f636e9a1f3268df32/src/schema/v1.openapi.json",
    source: "github.com/portone-io/developers.portone.io `src/schema/v1.openapi.json` (Swagger 2.0)",
    commit: "af926bd2cdd7c3c6ee6d2e1f636e9a1f3268df32",
    date: "2026-08-06 (file last changed 2026-07-27)",
    sha256: "1bf56e0e8be48c7cecb1bc543a70c4818af1859e94e9ff72001d0d4dc4e67bdd",
};
