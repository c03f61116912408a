//! What this process uses: its resident memory, as the kernel reports it in
//! `/proc/self/status`, and the CPU time of its threads.
//!
//! Each pipeline run is a process of its own, so its peak (`VmHWM`, the "high water mark" of
//! the resident set) belongs to that run alone: the app, and the small load generator that
//! drives it. Elsewhere than Linux there is no such file, and the figures read `None`.
//!
//! CPU time is the steadier figure on a shared machine: another program that takes a core
//! away slows a run down, but adds nothing to the CPU time the run itself uses.

use std::time::Duration;

/// Whose CPU time [`cpu_time`] reads.
#[derive(Clone, Copy, Debug)]
pub enum Who {
    /// Every thread of this process, user and kernel time.
    Process,
    /// The calling thread alone.
    Thread,
}

/// The CPU time used so far, by the whole process or by the calling thread. `None` where the
/// system cannot say (a thread's own time is a Linux feature).
pub fn cpu_time(who: Who) -> Option<Duration> {
    let who = match who {
        Who::Process => libc::RUSAGE_SELF,
        #[cfg(target_os = "linux")]
        Who::Thread => libc::RUSAGE_THREAD,
        #[cfg(not(target_os = "linux"))]
        Who::Thread => return None,
    };
    // SAFETY: `getrusage` only writes the struct it is given, which is ours and zeroed.
    let (usage, result) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let result = libc::getrusage(who, &mut usage);
        (usage, result)
    };
    if result != 0 {
        return None;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Some(time(usage.ru_utime) + time(usage.ru_stime))
}

/// The resident set now (`VmRSS`), in kB.
pub fn rss_kb() -> Option<u64> {
    status_kb("VmRSS")
}

/// The largest the resident set has been (`VmHWM`), in kB.
pub fn peak_rss_kb() -> Option<u64> {
    status_kb("VmHWM")
}

/// A `kB` field of `/proc/self/status`, e.g. `VmHWM:    41236 kB`.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_kb(&status, field)
}

fn parse_kb(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|line| line.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_field_in_kb() {
        let status = "VmPeak:\t  912340 kB\nVmHWM:\t   41236 kB\nVmRSS:\t   40100 kB\n";
        assert_eq!(parse_kb(status, "VmHWM"), Some(41236));
        assert_eq!(parse_kb(status, "VmRSS"), Some(40100));
        assert_eq!(parse_kb(status, "VmSwap"), None);
    }

    #[test]
    fn a_busy_thread_uses_cpu_time() {
        let Some(before) = cpu_time(Who::Thread) else {
            return; // not on this system
        };
        let mut x = 0u64;
        while cpu_time(Who::Thread).unwrap() - before < Duration::from_millis(5) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_time(Who::Process).unwrap() >= cpu_time(Who::Thread).unwrap());
    }

    #[test]
    fn this_process_has_a_resident_set() {
        if cfg!(target_os = "linux") {
            let rss = rss_kb().unwrap();
            assert!(rss > 0);
            // The peak read after the resident set: other tests' threads may allocate in
            // between, and the peak never falls, so it must be at least what was read before.
            assert!(peak_rss_kb().unwrap() >= rss);
        }
    }
}
