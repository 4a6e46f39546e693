//! What the three binaries share on the command line (STYLE.md 2): count parsers, the worker
//! count, and the cluster task a batch process runs ([`task`]). Parsing only: nothing here reads
//! a file.

pub mod task;

pub use task::{Task, TaskArgs, TaskError};

/// A count flag's parser: a whole number of at least 1 (issue #33 point 11: `--jobs 0` and
/// `--utts-per-shard 0` were accepted, and ran nothing or everything in one shard).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}")),
    }
}

/// The cores this process may use (1 where that cannot be told): the default worker count.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `--jobs N`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct JobsArgs {
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
}

impl JobsArgs {
    /// The worker count: the flag, else every core.
    pub fn get(&self) -> usize {
        self.jobs.unwrap_or_else(cores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_start_at_one() {
        assert_eq!(at_least_one(" 3 "), Ok(3));
        assert_eq!(at_least_one("0"), Err("must be at least 1".into()));
        assert!(at_least_one("-1").is_err());
    }
}
