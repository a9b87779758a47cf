//! Passwords and the owner's sign-in: salted PBKDF2-HMAC-SHA256 hashes (ring, already in the
//! tree through rustls), the owner's sessions with their CSRF tokens (in RAM: a restart signs
//! the owner out, and signing in writes nothing to flash), and the lock-out that makes password
//! guessing slow. Pure apart from the random generator and the tables' own locks: every time
//! is passed in as `now`. Never logs or returns a password or a hash.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;

use crate::core::locks::lock;
use crate::core::time::Timestamp;
use crate::core::token::{hex, random_bytes, random_token, unhex};

/// PBKDF2 iterations for new hashes. One check costs 4.2 ms on the x86_64 test machine (SHA
/// extensions; `cargo bench --bench password`) and, at the 30-60x slower SHA-256 of a MIPS 24Kc
/// core, 0.13-0.25 s on a router (0.20 s for a mipsel build under qemu): well under a second,
/// so a sign-in stays quick and a burst of them cannot stall the router (they are also
/// serialised, see `HASHING`). ARCHITECTURE.md "The owner page" (Hashing) has the reasoning.
/// Stored hashes carry their count, so it can be raised later: `needs_rehash` tells the caller
/// to store a new hash at the next successful sign-in.
pub const ITERATIONS: u32 = 20_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
const SCHEME: &str = "pbkdf2-sha256";

/// The owner's password: at least this long (a Wi-Fi business's till depends on it).
pub(crate) const OWNER_MIN_LEN: usize = 8;
/// Guest accounts' passwords (the owner hands them out): at least this long.
pub(crate) const ACCOUNT_MIN_LEN: usize = 4;
/// Longer input is refused before hashing (it would only cost time).
pub(crate) const MAX_LEN: usize = 256;

/// One password check at a time: a burst of sign-ins queues instead of taking every core of a
/// small router at once.
static HASHING: Mutex<()> = Mutex::new(());

fn derive(iterations: NonZeroU32, salt: &[u8], password: &str) -> [u8; HASH_LEN] {
    let _one_at_a_time = lock(&HASHING);
    let mut out = [0u8; HASH_LEN];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

/// Pure: the stored form of `password` with this salt and count:
/// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`.
pub(crate) fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let n = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    let hash = derive(n, salt, password);
    format!("{SCHEME}${}${}${}", n, hex(salt), hex(&hash))
}

/// Hashes a new password with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = random_bytes::<SALT_LEN>()?;
    Ok(hash_with(password, &salt, ITERATIONS))
}

struct Parsed {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse(stored: &str) -> Option<Parsed> {
    let mut parts = stored.split('$');
    if parts.next()? != SCHEME {
        return None;
    }
    let iterations = NonZeroU32::new(parts.next()?.parse().ok()?)?;
    let salt = unhex(parts.next()?)?;
    let hash = unhex(parts.next()?)?;
    (parts.next().is_none() && hash.len() == HASH_LEN && !salt.is_empty()).then_some(Parsed {
        iterations,
        salt,
        hash,
    })
}

/// Whether `password` matches a stored hash (in constant time; a malformed hash never matches).
pub fn verify_password(stored: &str, password: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    let Some(p) = parse(stored) else {
        return false;
    };
    let _one_at_a_time = lock(&HASHING);
    ring::pbkdf2::verify(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        p.iterations,
        &p.salt,
        password.as_bytes(),
        &p.hash,
    )
    .is_ok()
}

/// Costs what a real check costs, for a user name that does not exist: how long a refusal takes
/// does not tell whether the name is known.
pub(crate) fn verify_nobody(password: &str) {
    let salt = [0x5a; SALT_LEN];
    let _ = derive(
        NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN),
        &salt,
        password.get(..MAX_LEN.min(password.len())).unwrap_or(""),
    );
}

/// Whether a stored hash is weaker than what `hash_password` makes today.
pub(crate) fn needs_rehash(stored: &str) -> bool {
    parse(stored).is_none_or(|p| p.iterations.get() < ITERATIONS)
}

/// Checks a new password against the rules; the message is for the person choosing it.
pub(crate) fn password_problem(password: &str, min_len: usize) -> Option<String> {
    let chars = password.chars().count();
    if chars < min_len {
        return Some(format!("The password needs at least {min_len} characters."));
    }
    if password.len() > MAX_LEN {
        return Some(format!(
            "The password may have at most {MAX_LEN} characters."
        ));
    }
    if password.trim() != password {
        return Some("The password cannot start or end with a space.".into());
    }
    None
}

// ---- lock-out ----

/// Wrong passwords an address may type before it has to wait.
pub const FREE_FAILURES: u32 = 5;
/// The first wait; it doubles with each further failure, up to `MAX_WAIT_SECS`.
pub(crate) const FIRST_WAIT_SECS: i64 = 30;
pub(crate) const MAX_WAIT_SECS: i64 = 900;
/// An address's failures are forgotten after this long without one.
const FORGET_SECS: i64 = 3600;
/// Failures from all addresses together within `GLOBAL_WINDOW_SECS` before everyone waits: a
/// last ceiling for a guesser spreading over many addresses, far above what one address can
/// reach (5 free tries, then back-off), so that a few addresses guessing never lock the owner
/// out (issue 13). The owner's way in past it: `ubus call lango unlock` (root), or a restart.
pub(crate) const GLOBAL_FAILURES: usize = 600;
pub(crate) const GLOBAL_WINDOW_SECS: i64 = 3600;
/// Addresses tracked at most (the owner page answers only `admin_allow`, so this is plenty);
/// past it, the address idle longest is forgotten first.
pub(crate) const MAX_ADDRESSES: usize = 1024;

#[derive(Clone, Copy, Debug, Default)]
struct Strikes {
    failures: u32,
    last: Timestamp,
    locked_until: Timestamp,
    /// Checks let through whose outcome is not known yet (a password being hashed), and when
    /// the last one began. They count against the free failures, so that guesses sent at once
    /// get no more checks than guesses sent one by one.
    pending: u32,
    pending_at: Timestamp,
}

/// A check let through and never followed by `failure` or `success` (the request failed in
/// between) stops counting after this long.
const PENDING_SECS: i64 = 30;

/// Small tables are vectors searched in order: at most `MAX_ADDRESSES` and `MAX_SESSIONS`
/// entries, touched only by sign-ins and owner pages, and cheaper in code than a hash map.
#[derive(Default)]
struct LockoutState {
    by_ip: Vec<(IpAddr, Strikes)>,
    global: VecDeque<Timestamp>,
}

/// What a failure led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The address may try again at once.
    TryAgain { left: u32 },
    /// The address must wait this long (the lock-out started or grew).
    Locked { secs: i64 },
}

/// For the log: router builds print derived `Debug` shallowly (docs/size.md).
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::TryAgain { left } => write!(f, "{left} tries left"),
            Failure::Locked { secs } => write!(f, "locked out for {secs} s"),
        }
    }
}

/// Back-off for password guessing, per address and overall. Checked before any hashing.
#[derive(Default)]
pub struct Lockout {
    state: Mutex<LockoutState>,
}

impl Lockout {
    fn state(&self) -> std::sync::MutexGuard<'_, LockoutState> {
        lock(&self.state)
    }

    /// `Err(secs)`: `ip` must wait this long before its password is even checked.
    pub(crate) fn check(&self, ip: IpAddr, now: Timestamp) -> Result<(), i64> {
        let mut state = self.state();
        while state
            .global
            .front()
            .is_some_and(|at| now - at >= GLOBAL_WINDOW_SECS)
        {
            state.global.pop_front();
        }
        if state.global.len() >= GLOBAL_FAILURES {
            let oldest = state.global.front().copied().unwrap_or(now);
            return Err((oldest + GLOBAL_WINDOW_SECS - now).max(1));
        }
        let strikes = strikes_of(&mut state, ip, now);
        if strikes.locked_until > now {
            return Err(strikes.locked_until - now);
        }
        if now - strikes.pending_at >= PENDING_SECS {
            strikes.pending = 0;
        }
        let failures = if now - strikes.last >= FORGET_SECS {
            0
        } else {
            strikes.failures
        };
        // As many checks at once as failures are left before the lock-out (one at a time once
        // they are used up and the lock-out has passed); more wait for those under way.
        if strikes.pending >= FREE_FAILURES.saturating_sub(failures).max(1) {
            return Err(1);
        }
        strikes.pending += 1;
        strikes.pending_at = now;
        Ok(())
    }

    /// Records a wrong password from `ip`.
    pub(crate) fn failure(&self, ip: IpAddr, now: Timestamp) -> Failure {
        let mut state = self.state();
        state.global.push_back(now);
        let strikes = strikes_of(&mut state, ip, now);
        strikes.pending = strikes.pending.saturating_sub(1);
        if now - strikes.last >= FORGET_SECS {
            *strikes = Strikes {
                pending: strikes.pending,
                pending_at: strikes.pending_at,
                ..Strikes::default()
            };
        }
        strikes.failures += 1;
        strikes.last = now;
        if strikes.failures < FREE_FAILURES {
            return Failure::TryAgain {
                left: FREE_FAILURES - strikes.failures,
            };
        }
        let doublings = (strikes.failures - FREE_FAILURES).min(10);
        let secs = (FIRST_WAIT_SECS << doublings).min(MAX_WAIT_SECS);
        strikes.locked_until = now + secs;
        Failure::Locked { secs }
    }

    /// A right password: the address starts afresh.
    pub(crate) fn success(&self, ip: IpAddr) {
        self.state().by_ip.retain(|(a, _)| *a != ip);
    }

    /// The owner's way back in (`ubus call lango unlock`): every address and the overall
    /// ceiling start afresh. Returns how many addresses were waiting or counting.
    pub fn reset(&self) -> usize {
        let mut state = self.state();
        let n = state.by_ip.len();
        *state = LockoutState::default();
        n
    }
}

/// The strikes of `ip`, added if it has none (the table is bounded: old entries go first).
fn strikes_of(state: &mut LockoutState, ip: IpAddr, now: Timestamp) -> &mut Strikes {
    let idx = match state.by_ip.iter().position(|(a, _)| *a == ip) {
        Some(idx) => idx,
        None => {
            if state.by_ip.len() >= MAX_ADDRESSES {
                state
                    .by_ip
                    .retain(|(_, s)| now - s.last.max(s.pending_at) < FORGET_SECS);
            }
            if state.by_ip.len() >= MAX_ADDRESSES {
                // The address idle longest goes; never the whole table (which would free every
                // address that is waiting, the one being locked out among them).
                let oldest = state
                    .by_ip
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, (_, s))| s.last.max(s.pending_at))
                    .map(|(idx, _)| idx);
                if let Some(idx) = oldest {
                    state.by_ip.swap_remove(idx);
                }
            }
            state.by_ip.push((ip, Strikes::default()));
            state.by_ip.len() - 1
        }
    };
    &mut state.by_ip[idx].1
}

// ---- the owner's sessions ----

/// The session cookie's name. HttpOnly and SameSite=Strict; no Max-Age, so it ends with the
/// browser; no Secure, because the owner page is plain HTTP on the LAN (the flag would make
/// sign-in impossible; SameSite=Strict, short sessions and the Host check make up for it).
pub(crate) const COOKIE: &str = "lango_owner";
/// A session unused this long ends (OWASP suggests 15-30 minutes for low-risk applications).
pub(crate) const IDLE_SECS: i64 = 30 * 60;
/// A session ends this long after sign-in, however busy.
pub(crate) const ABSOLUTE_SECS: i64 = 12 * 3600;
/// Signed-in browsers at most; the oldest is signed out first.
const MAX_SESSIONS: usize = 32;

/// One signed-in browser.
#[derive(Clone, Debug)]
pub(crate) struct OwnerSession {
    /// The synchronizer token every state-changing form must carry.
    pub csrf: String,
    pub created: Timestamp,
    pub seen: Timestamp,
    /// A one-time notice for the next page (post/redirect/get), and how it reads.
    pub flash: Option<(Notice, String)>,
}

/// What a one-time notice on the owner page tells: a change was made, made with something to
/// look at, or refused (nothing changed). Each has its own colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    Success,
    Warning,
    Error,
}

/// The owner's sessions, keyed by the SHA-256 of their ids (a lookup's timing says nothing
/// about the id, and a memory dump holds no usable cookie).
#[derive(Default)]
pub struct OwnerSessions {
    map: Mutex<Vec<(Vec<u8>, OwnerSession)>>,
}

fn key(id: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, id.as_bytes())
        .as_ref()
        .to_vec()
}

impl OwnerSessions {
    fn map(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<u8>, OwnerSession)>> {
        lock(&self.map)
    }

    /// The session stored under `id`, mutable.
    fn find<'a>(map: &'a mut [(Vec<u8>, OwnerSession)], id: &str) -> Option<&'a mut OwnerSession> {
        let k = key(id);
        map.iter_mut().find(|(key, _)| *key == k).map(|(_, s)| s)
    }

    /// A new session (always a new id: no fixation). Returns its id.
    pub(crate) fn create(&self, now: Timestamp) -> Result<String, String> {
        let id = random_token()?;
        let session = OwnerSession {
            csrf: random_token()?,
            created: now,
            seen: now,
            flash: None,
        };
        let mut map = self.map();
        map.retain(|(_, s)| live(s, now));
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, s))| s.seen)
                .map(|(idx, _)| idx);
            if let Some(oldest) = oldest {
                map.swap_remove(oldest);
            }
        }
        map.push((key(&id), session));
        Ok(id)
    }

    /// The live session with this id, marked as used now.
    pub(crate) fn get(&self, id: &str, now: Timestamp) -> Option<OwnerSession> {
        let mut map = self.map();
        let k = key(id);
        let idx = map.iter().position(|(key, _)| *key == k)?;
        let (_, session) = map.get_mut(idx)?;
        if !live(session, now) {
            map.swap_remove(idx);
            return None;
        }
        session.seen = now;
        Some(session.clone())
    }

    pub(crate) fn set_flash(&self, id: &str, kind: Notice, text: String) {
        if let Some(s) = Self::find(&mut self.map(), id) {
            s.flash = Some((kind, text));
        }
    }

    pub(crate) fn take_flash(&self, id: &str) -> Option<(Notice, String)> {
        Self::find(&mut self.map(), id)?.flash.take()
    }

    pub(crate) fn remove(&self, id: &str) {
        let k = key(id);
        self.map().retain(|(key, _)| *key != k);
    }

    /// Signs out every browser but `keep` (after a password change).
    pub(crate) fn remove_others(&self, keep: &str) {
        let k = key(keep);
        self.map().retain(|(key, _)| *key == k);
    }
}

fn live(s: &OwnerSession, now: Timestamp) -> bool {
    now - s.seen < IDLE_SECS && now - s.created < ABSOLUTE_SECS
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let stored = hash_with("correct horse", b"0123456789abcdef", 1000);
        assert!(stored.starts_with("pbkdf2-sha256$1000$30313233"));
        assert!(verify_password(&stored, "correct horse"));
        assert!(!verify_password(&stored, "correct hors"));
        assert!(!verify_password(&stored, ""));
        assert!(needs_rehash(&stored), "fewer iterations than today's");
        let fresh = hash_password("correct horse").unwrap();
        assert!(!needs_rehash(&fresh) && verify_password(&fresh, "correct horse"));
        assert_ne!(fresh, hash_password("correct horse").unwrap(), "salted");
        // RFC 7914 section 11 test vector for PBKDF2-HMAC-SHA256 (c = 1, dkLen 32 prefix).
        let vector = hash_with("passwd", b"salt", 1);
        assert!(
            vector.ends_with("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
        );
        for junk in [
            "",
            "$",
            "pbkdf2-sha256$0$00$00",
            "md5$1$00$00",
            "pbkdf2-sha256$1$zz$00",
        ] {
            assert!(!verify_password(junk, "x"), "{junk}");
            assert!(needs_rehash(junk));
        }
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short", OWNER_MIN_LEN).is_some());
        assert!(password_problem("long enough", OWNER_MIN_LEN).is_none());
        assert!(password_problem(" padded password", OWNER_MIN_LEN).is_some());
        assert!(password_problem(&"x".repeat(MAX_LEN + 1), OWNER_MIN_LEN).is_some());
        assert!(password_problem("1234", ACCOUNT_MIN_LEN).is_none());
    }

    #[test]
    fn guesses_sent_at_once_get_no_more_checks_than_guesses_sent_one_by_one() {
        let lockout = Lockout::default();
        let ip: IpAddr = [192, 168, 1, 50].into();
        // 40 guesses arrive together: each is checked before any hash finishes.
        let let_through = (0..40).filter(|_| lockout.check(ip, 1000).is_ok()).count();
        assert_eq!(let_through, FREE_FAILURES as usize);
        for _ in 0..let_through {
            lockout.failure(ip, 1001);
        }
        assert!(
            lockout.check(ip, 1001).is_err(),
            "locked out after five failures"
        );
        // Another address is not held up, and a check whose request died stops counting.
        let other: IpAddr = [192, 168, 1, 51].into();
        assert!(lockout.check(other, 1001).is_ok());
        let third: IpAddr = [192, 168, 1, 52].into();
        for _ in 0..FREE_FAILURES {
            assert!(lockout.check(third, 2000).is_ok());
        }
        assert_eq!(lockout.check(third, 2000), Err(1));
        assert!(lockout.check(third, 2000 + PENDING_SECS).is_ok());
    }

    #[test]
    fn lockout_backs_off_per_address_and_overall() {
        let lockout = Lockout::default();
        let ip: IpAddr = "192.168.1.50".parse().unwrap();
        let other: IpAddr = "192.168.1.51".parse().unwrap();
        for left in (1..FREE_FAILURES).rev() {
            assert_eq!(lockout.check(ip, 0), Ok(()));
            assert_eq!(lockout.failure(ip, 0), Failure::TryAgain { left });
        }
        assert_eq!(lockout.failure(ip, 0), Failure::Locked { secs: 30 });
        assert_eq!(lockout.check(ip, 10), Err(20));
        assert_eq!(lockout.check(other, 10), Ok(()), "per address");
        assert_eq!(lockout.failure(ip, 30), Failure::Locked { secs: 60 });
        assert_eq!(lockout.failure(ip, 90), Failure::Locked { secs: 120 });
        for _ in 0..10 {
            lockout.failure(ip, 100);
        }
        assert_eq!(lockout.check(ip, 100), Err(MAX_WAIT_SECS));
        lockout.success(ip);
        assert_eq!(lockout.check(ip, 101), Ok(()));
        // Spread over many addresses, guessing still stops at the global ceiling.
        let lockout = Lockout::default();
        for n in 0..GLOBAL_FAILURES {
            let ip = IpAddr::from([10, 0, (n / 250) as u8, (n % 250) as u8]);
            assert_eq!(lockout.check(ip, 1000), Ok(()));
            lockout.failure(ip, 1000);
        }
        assert_eq!(lockout.check(other, 1000), Err(GLOBAL_WINDOW_SECS));
        assert_eq!(lockout.check(other, 1000 + GLOBAL_WINDOW_SECS), Ok(()));
    }

    /// Issue 13: guesses from a handful of addresses (12 x 5 wrong passwords) lock those
    /// addresses, not the owner's; before, 60 failures overall locked everyone out for an hour.
    #[test]
    fn a_few_guessing_addresses_do_not_lock_the_owner_out() {
        let lockout = Lockout::default();
        for n in 0..12u8 {
            let guesser = IpAddr::from([192, 168, 1, 100 + n]);
            for _ in 0..FREE_FAILURES {
                assert_eq!(lockout.check(guesser, 0), Ok(()));
                lockout.failure(guesser, 0);
            }
            assert!(lockout.check(guesser, 1).is_err());
        }
        let owner: IpAddr = "192.168.8.2".parse().unwrap();
        assert_eq!(lockout.check(owner, 1), Ok(()));
        // The owner's way in past everything: `ubus call lango unlock`.
        let guesser = IpAddr::from([192, 168, 1, 100]);
        assert_eq!(lockout.reset(), 13);
        assert_eq!(lockout.check(guesser, 2), Ok(()));
    }

    /// Issue 13: a full table forgets the address idle longest, never everyone: before, 1,024
    /// addresses trying once wiped the table, and the locked-out guesser with it.
    #[test]
    fn a_full_table_forgets_the_oldest_address_only() {
        let lockout = Lockout::default();
        let guesser: IpAddr = "10.9.9.9".parse().unwrap();
        for n in 0..(MAX_ADDRESSES - 1) {
            let ip = IpAddr::from([10, 1, (n / 250) as u8, (n % 250) as u8]);
            assert_eq!(lockout.check(ip, 1), Ok(()));
        }
        for _ in 0..FREE_FAILURES {
            lockout.failure(guesser, 100);
        }
        assert_eq!(lockout.check(guesser, 101), Err(29));
        for n in 0..10u8 {
            let newcomer = IpAddr::from([10, 2, 0, n]);
            assert_eq!(lockout.check(newcomer, 102), Ok(()));
            lockout.failure(newcomer, 102);
        }
        assert!(lockout.state().by_ip.len() <= MAX_ADDRESSES);
        assert_eq!(lockout.check(guesser, 103), Err(27), "still locked");
    }

    #[test]
    fn sessions_expire_and_are_new_at_each_sign_in() {
        let sessions = OwnerSessions::default();
        let a = sessions.create(0).unwrap();
        let b = sessions.create(0).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let csrf = sessions.get(&a, 10).unwrap().csrf;
        assert_ne!(csrf, sessions.get(&b, 10).unwrap().csrf);
        assert!(sessions.get("nope", 10).is_none());
        assert!(sessions.get(&a, 10 + IDLE_SECS).is_none(), "idle");
        let mut t = 10;
        while t + 600 < ABSOLUTE_SECS {
            t += 600;
            assert!(sessions.get(&b, t).is_some());
        }
        assert!(sessions.get(&b, ABSOLUTE_SECS).is_none(), "absolute");
        let c = sessions.create(t).unwrap();
        sessions.set_flash(&c, Notice::Warning, "saved".into());
        assert_eq!(
            sessions.take_flash(&c),
            Some((Notice::Warning, "saved".into()))
        );
        assert_eq!(sessions.take_flash(&c), None);
        let d = sessions.create(t).unwrap();
        sessions.remove_others(&d);
        assert!(sessions.get(&c, t).is_none() && sessions.get(&d, t).is_some());
        sessions.remove(&d);
        assert_eq!(sessions.map().len(), 0);
        for _ in 0..100 {
            sessions.create(t).unwrap();
        }
        assert!(sessions.map().len() <= MAX_SESSIONS);
    }

    #[test]
    fn cookies() {
        assert_eq!(cookie("a=1; lango_owner=abc; b=2", COOKIE), Some("abc"));
        assert_eq!(cookie("lango_owner_x=1", COOKIE), None);
        assert_eq!(cookie("", COOKIE), None);
    }
}
