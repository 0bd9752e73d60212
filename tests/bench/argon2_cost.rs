//! The cost of one password hash with the configured argon2id parameters
//! (`ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`, `ARGON2_PARALLELISM`; defaults m=19456, t=2, p=1),
//! through the same `PasswordHasherConfig` create-account and sign-in use.
//!
//! `argon2_cost <hashes>` hashes that many times, then verifies once, and prints one JSON line:
//! the time of each hash and of the verification, and the peak resident memory (VmHWM) before
//! and after, so the difference is what hashing adds. `argon2_cost 0` is the baseline process.

use std::time::Instant;

use shared::domain::password::{Password, PasswordHasherConfig};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn setting(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn main() {
    let hashes: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10);
    let defaults = PasswordHasherConfig::default();
    let hasher = PasswordHasherConfig {
        memory_kib: setting("ARGON2_MEMORY_KIB", defaults.memory_kib),
        iterations: setting("ARGON2_ITERATIONS", defaults.iterations),
        parallelism: setting("ARGON2_PARALLELISM", defaults.parallelism),
    };
    let password = Password::new("Tr0ub4dor&3-horse");
    let before = peak_rss_kib();
    let mut hash_ms = Vec::with_capacity(hashes);
    let mut phc = None;
    for _ in 0..hashes {
        let started = Instant::now();
        phc = Some(hasher.hash(&password).expect("argon2 parameters"));
        hash_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let verify_ms = match &phc {
        None => 0.0,
        Some(phc) => {
            let started = Instant::now();
            assert!(hasher.verify(&password, phc).expect("argon2 parameters"));
            started.elapsed().as_secs_f64() * 1000.0
        }
    };
    let hash_ms: Vec<String> = hash_ms.iter().map(|ms| format!("{ms:.2}")).collect();
    println!(
        r#"{{"memory_kib":{},"iterations":{},"parallelism":{},"hash_ms":[{}],"verify_ms":{verify_ms:.2},"peak_rss_before_kib":{before},"peak_rss_after_kib":{}}}"#,
        hasher.memory_kib,
        hasher.iterations,
        hasher.parallelism,
        hash_ms.join(","),
        peak_rss_kib()
    );
}
