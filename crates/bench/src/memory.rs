//! This process's resident memory, as the kernel reports it in `/proc/self/status`.
//!
//! Each pipeline run is a process of its own, so its peak (`VmHWM`, the "high water mark" of
//! the resident set) belongs to that run alone: the app, and the small load generator that
//! drives it. Elsewhere than Linux there is no such file, and the figures read `None`.

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
    fn this_process_has_a_resident_set() {
        if cfg!(target_os = "linux") {
            assert!(rss_kb().unwrap() > 0);
            assert!(peak_rss_kb().unwrap() >= rss_kb().unwrap());
        }
    }
}
