//! `cachecheck bench harness WORKLOAD` (work in progress).
