//! The C allocator's arenas. glibc gives threads arenas of their own as they contend (up to 8
//! a core), each with its own free space: the connections are allocated on the runtime's
//! workers, the rooms on their threads, and what one arena frees the others can't reuse.
//! Limited to one, 10,000 idle joined players took 4.00 KiB each instead of 4.30 (two arenas:
//! 4.12), and the CPU per frame at 1,000 clients did not move, on this project's 2-core machine
//! (BENCHMARKS "Memory at rest"). glibc's per-thread caches still serve most small allocations
//! without the arena's lock; on a host of many cores, where more threads share that lock,
//! measure before keeping one (`--malloc-arenas 0` leaves glibc's default).
//!
//! Set once, first thing, before any thread starts (`--malloc-arenas`); glibc's own
//! `MALLOC_ARENA_MAX`, when set, wins.

/// Limits the C allocator to `arenas` arenas (0 leaves its default, as does `MALLOC_ARENA_MAX`
/// in the environment, which glibc reads itself); whether it applied (only glibc has arenas to
/// limit).
pub fn limit_arenas(arenas: usize) -> bool {
    if arenas == 0 || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return false;
    }
    set_arena_max(arenas)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(arenas: usize) -> bool {
    let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` takes two integers and only sets a limit glibc reads when a thread
    // next needs an arena; it has no memory-safety preconditions.
    #[allow(unsafe_code)]
    let done = unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    done == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_leaves_the_default_and_glibc_takes_a_limit() {
        assert!(!limit_arenas(0));
        // A generous limit for the rest of this test process (whose threads exist already).
        let applies = cfg!(all(target_os = "linux", target_env = "gnu"))
            && std::env::var_os("MALLOC_ARENA_MAX").is_none();
        assert_eq!(limit_arenas(64), applies);
    }
}
