//! What a crash leaves in the log. The MIPS and aarch64 router builds are compiled with
//! `-C panic=immediate-abort` (the size budget, docs/size.md): a panic there is a trap
//! instruction at the panic site (`break` on MIPS, `brk` on aarch64) and prints nothing. On
//! those builds `install` sets a SIGTRAP
//! handler that writes one line to stderr (procd forwards it to `logread`) with lango's version,
//! the program counter of the trap and the return address, then aborts as a panic would have;
//! procd respawns lango. `scripts/symbolize ARCH PC RA` turns the two addresses into functions
//! (and lines) with the build's symbol file, `artifacts/ARCH/lango.debug`. Every other build keeps
//! Rust's own panic message and `install` does nothing.
//!
//! `selftest` panics on purpose (`lango selftest-crash`), so a test can check what a crash leaves
//! on each CPU.

/// Installs the trap handler on the builds that need it; a no-op elsewhere.
pub fn install() {
    #[cfg(all(target_arch = "mips", target_os = "linux"))]
    trap::install(trap::mips_registers);
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    trap::install(trap::aarch64_registers);
}

/// Panics with an out-of-bounds index that the compiler cannot see coming (`lango
/// selftest-crash`). Never returns.
#[inline(never)]
pub fn selftest(args: usize) -> u8 {
    let nothing: Vec<u8> = Vec::with_capacity(args);
    nothing[args]
}

/// Writes `value` as `0x` and eight hex digits, or sixteen when it does not fit in 32 bits (the
/// addresses of a 64-bit CPU), into `out` at `at`; returns the new end. No allocation: it runs
/// inside a signal handler.
fn put_hex(out: &mut [u8], mut at: usize, value: u64) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in b"0x" {
        if let Some(slot) = out.get_mut(at) {
            *slot = b;
            at += 1;
        }
    }
    let digits = if value > u64::from(u32::MAX) { 16 } else { 8 };
    for shift in (0..digits).rev() {
        if let Some(slot) = out.get_mut(at) {
            *slot = DIGITS[((value >> (shift * 4)) & 0xf) as usize];
            at += 1;
        }
    }
    at
}

/// Copies `text` into `out` at `at`, as much as fits; returns the new end.
fn put(out: &mut [u8], at: usize, text: &[u8]) -> usize {
    let at = at.min(out.len());
    let n = text.len().min(out.len() - at);
    out[at..at + n].copy_from_slice(&text[..n]);
    at + n
}

/// The line the handler writes, built without allocating. Only the trap handler (and the tests)
/// call it; the allowance covers the helpers it calls too. `ra` is the return address register
/// (`$ra` on MIPS, `x30` on aarch64).
#[cfg_attr(
    not(all(
        target_os = "linux",
        any(target_arch = "mips", target_arch = "aarch64")
    )),
    allow(dead_code)
)]
fn report(out: &mut [u8], pc: u64, ra: u64) -> usize {
    let mut at = put(out, 0, b"lango ");
    at = put(out, at, env!("CARGO_PKG_VERSION").as_bytes());
    at = put(out, at, b": internal error (a bug), stopped at pc ");
    at = put_hex(out, at, pc);
    at = put(out, at, b" ra ");
    at = put_hex(out, at, ra);
    at = put(
        out,
        at,
        b"; procd restarts lango. Please report this line (scripts/symbolize resolves it)\n",
    );
    at
}

// The crate's one use of `unsafe` (lib.rs): a signal handler and the signal context it reads.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "mips", target_arch = "aarch64")
))]
#[allow(unsafe_code)]
mod trap {
    use nix::libc;
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Reads (pc, return address) out of a `ucontext_t`.
    type Registers = unsafe fn(*const u8) -> (u64, u64);

    /// The reader for this CPU, stored once by `install` (a plain fn pointer as usize).
    static READER: AtomicUsize = AtomicUsize::new(0);

    /// Linux MIPS o32 `ucontext_t` (musl's layout, which is the kernel's): uc_flags (4),
    /// uc_link (4), uc_stack (12), then `mcontext_t` at 24 (8-aligned) = regmask (4),
    /// status (4), pc (u64), gregs[32] (u64 each). $ra is gregs[31].
    #[cfg(target_arch = "mips")]
    pub unsafe fn mips_registers(base: *const u8) -> (u64, u64) {
        const PC: usize = 24 + 8;
        const RA: usize = PC + 8 + 31 * 8;
        // SAFETY: the caller passes the kernel's `ucontext_t`; the offsets are its layout.
        unsafe {
            (
                u64::from((base.add(PC) as *const u64).read_unaligned() as u32),
                u64::from((base.add(RA) as *const u64).read_unaligned() as u32),
            )
        }
    }

    /// Linux aarch64 `ucontext_t` (the kernel's uapi layout, which musl uses): uc_flags (8),
    /// uc_link (8), uc_stack (24), uc_sigmask padded to 128, then `struct sigcontext`
    /// 16-aligned at 176 = fault_address (8), regs[31] (8 each), sp, pc. x30 (the link register)
    /// is regs[30].
    #[cfg(target_arch = "aarch64")]
    pub unsafe fn aarch64_registers(base: *const u8) -> (u64, u64) {
        const REGS: usize = 176 + 8;
        const LR: usize = REGS + 30 * 8;
        const PC: usize = REGS + 31 * 8 + 8;
        // SAFETY: the caller passes the kernel's `ucontext_t`; the offsets are its layout.
        unsafe {
            (
                (base.add(PC) as *const u64).read_unaligned(),
                (base.add(LR) as *const u64).read_unaligned(),
            )
        }
    }

    extern "C" fn on_trap(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
        let reader = READER.load(Ordering::Relaxed);
        let (pc, ra) = if context.is_null() || reader == 0 {
            (0, 0)
        } else {
            // SAFETY: `reader` was stored from a `Registers` fn by `install`; the kernel passes
            // a `ucontext_t` with SA_SIGINFO. Unaligned reads: no assumption on alignment.
            unsafe {
                let read: Registers = std::mem::transmute::<usize, Registers>(reader);
                read(context as *const u8)
            }
        };
        let mut line = [0u8; 200];
        let len = super::report(&mut line, pc, ra);
        // SAFETY: write(2) and abort(3) are async-signal-safe; `line` outlives the call.
        unsafe {
            libc::write(2, line.as_ptr().cast(), len);
            libc::abort();
        }
    }

    pub fn install(registers: Registers) {
        READER.store(registers as usize, Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::SigAction(on_trap),
            SaFlags::SA_SIGINFO | SaFlags::SA_RESETHAND,
            SigSet::empty(),
        );
        // SAFETY: the handler only calls async-signal-safe functions.
        if let Err(e) = unsafe { sigaction(Signal::SIGTRAP, &action) } {
            log::warn!("cannot install the crash reporter: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crash_line_names_the_version_and_both_addresses() {
        let mut out = [0u8; 192];
        let len = report(&mut out, 0x0045_a3c0, 0x0040_0010);
        let line = std::str::from_utf8(&out[..len]).unwrap();
        assert!(line.starts_with(concat!("lango ", env!("CARGO_PKG_VERSION"), ": ")));
        assert!(line.contains("pc 0x0045a3c0 ra 0x00400010"), "{line}");
        assert!(line.ends_with('\n'));
        // A 64-bit CPU's addresses get all sixteen digits.
        let len = report(&mut out, 0x0000_5555_0045_a3c0, 0x0040_0010);
        let line = std::str::from_utf8(&out[..len]).unwrap();
        assert!(
            line.contains("pc 0x000055550045a3c0 ra 0x00400010"),
            "{line}"
        );
    }

    #[test]
    fn a_short_buffer_truncates_instead_of_panicking() {
        let mut out = [0u8; 20];
        assert_eq!(report(&mut out, u64::MAX, 0), 20);
        let mut tiny = [0u8; 3];
        assert_eq!(put_hex(&mut tiny, 1, 0xdead_beef), 3);
        assert_eq!(tiny, [0, b'0', b'x']);
    }

    #[test]
    #[should_panic(expected = "index out of bounds")]
    fn the_selftest_panics() {
        selftest(std::hint::black_box(3));
    }
}
