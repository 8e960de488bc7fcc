//! Per-thread CPU time: both sides run on the calling thread, so this is what they cost,
//! independently of what else the machine runs.

use std::time::Duration;

/// CPU time consumed so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`), or `None`
/// where there is no such clock.
#[cfg(unix)]
pub fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` that outlives the call, and
    // `clock_gettime` writes nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// CPU time consumed so far by the calling thread, or `None` where there is no such clock.
#[cfg(not(unix))]
pub fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Milliseconds between two readings of [`thread_cpu_time`].
pub(crate) fn cpu_ms(start: Option<Duration>, end: Option<Duration>) -> Option<f64> {
    Some(end?.checked_sub(start?)?.as_secs_f64() * 1_000.0)
}
