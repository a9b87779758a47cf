//! `cargo bench --bench password`: how long one owner or guest password check takes here
//! (PBKDF2-HMAC-SHA256 at `auth::ITERATIONS`, ring). ARCHITECTURE.md "The owner page" turns
//! the figure into the router's: a MIPS 24Kc core is 30-60x slower at SHA-256.

use std::time::Instant;

fn main() {
    let stored = lango::core::auth::hash_password("correct horse battery").expect("random");
    let mut times: Vec<f64> = (0..25)
        .map(|_| {
            let start = Instant::now();
            assert!(lango::core::auth::verify_password(
                &stored,
                "correct horse battery"
            ));
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "password check, PBKDF2-HMAC-SHA256 x {} on {}: median {:.2} ms (min {:.2}, max {:.2})",
        lango::core::auth::ITERATIONS,
        std::env::consts::ARCH,
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
